"""Folding (PE/SIMD per layer) and dataflow performance for graphs of FINN's and our layers.

FINN's SetFolding and dataflow_performance know only FINN's specialised layers; these cover every
dataflow layer of the graph, ours included. Folding is balanced: each layer gets the least
parallelism that meets the target cycles per image, so no layer is faster than it needs to be.
"""

from __future__ import annotations

import numpy as np
from finn.util.fpgadataflow import is_fpgadataflow_node
from qonnx.custom_op.registry import getCustomOp

from build_flows.build import calibration
from build_flows.build.report import LayerRow
from build_flows.layers import layer_facts


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def knobs(node) -> list[tuple[str, int]]:
    """The folding attributes of a layer and the dimension each must divide, in the order they grow."""
    return layer_facts(node).folding_knobs()


def cycles(node) -> int:
    return int(getCustomOp(node).get_exp_cycles())


def set_folding(model, target_cycles: float, folding: dict | None = None) -> dict:
    """Fold every dataflow layer to at most ``target_cycles`` per image (least parallelism that meets
    it), or to the user's ``folding`` {layer name: {attr: value}} where given. Returns
    {layer name: cycles} of the layers that cannot meet the target even fully unfolded. The host driver's steps at
    the graph's ends are not the accelerator's and are left as they are."""
    from build_flows.sim.accelerator import host_step_names

    host = host_step_names(model)
    folding = folding or {}
    short = {}
    for node in model.graph.node:
        if not is_fpgadataflow_node(node) or node.name in host:
            continue
        inst = getCustomOp(node)
        if node.name in folding:
            for attr, value in folding[node.name].items():
                inst.set_nodeattr(attr, int(value))
            continue
        ks = knobs(node)
        for attr, _ in ks:
            inst.set_nodeattr(attr, 1)
        for attr, dim in ks:
            for d in _divisors(int(dim)):
                inst.set_nodeattr(attr, d)
                if inst.get_exp_cycles() <= target_cycles:
                    break
            if inst.get_exp_cycles() <= target_cycles:
                break
        if inst.get_exp_cycles() > target_cycles:
            short[node.name] = int(inst.get_exp_cycles())
    return short


def fastest_within_budget(model, board, clock_mhz: float, reserve: dict[str, int] | None = None) -> dict | None:
    """Fold ``model`` for the highest FPS whose estimate fits ``board``'s budget (every resource type of
    :meth:`~build_flows.boards.Board.over_budget`) with ``reserve`` ({resource: amount}, e.g. the FIFOs' sized
    cost) kept free, by bisection on the target cycles per image (balanced folding grows every layer's resources as
    the target tightens), never faster than the data path moves images. Gives {fps, cycles, limit (what stops it
    going faster), totals (the layers')} and leaves ``model`` so folded, or gives None (``model`` at PE=SIMD=1)
    when not even the smallest folding fits."""
    reserve = reserve or {}

    def fits(target: int) -> bool:
        set_folding(model, target)
        decide_memories(model, board)
        totals = on_chip_totals(layer_table(model, board.part))
        return not board.over_budget({k: v + reserve.get(k, 0) for k, v in totals.items()})

    unfold_all(model)
    wall = performance(model)  # the layer that no folding makes faster (others may tie with it once folded)
    fastest = max(1, wall["max_cycles"], io_cycles(model, board.axi_width)["cycles"])
    set_folding(model, float("inf"))
    slowest = max(1, performance(model)["max_cycles"])
    if not fits(slowest):
        return None
    lo, hi = fastest - 1, slowest  # hi fits; lo does not (or is below the fastest folding)
    if fits(fastest):
        hi = fastest
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    set_folding(model, hi)
    decide_memories(model, board)
    perf = performance(model)
    io = io_cycles(model, board.axi_width)["cycles"]
    cycles_ = max(1, perf["max_cycles"], io)
    limit = ("the board's budget" if hi > fastest else f"the data path ({board.axi_width} bits per cycle)"
             if io >= perf["max_cycles"] else f"the fastest folding (slowest layer {wall['max_cycles_node_name']})")
    return {"fps": clock_mhz * 1e6 / cycles_, "cycles": cycles_, "limit": limit,
            "totals": on_chip_totals(layer_table(model, board.part))}


def decide_memories(model, board) -> None:
    """Every layer's memories (``memory_styles``) placed for ``board`` at the current folding: each in the kind,
    LUTs or block RAM, for which the layer's calibrated estimate takes the smaller share of the budget; then
    memories moved from the tighter of the two kinds to the other while that lowers the tighter one's share and
    everything fits (:func:`_balance_memories`). The choice is written into the layers, where estimates and RTL
    read it."""
    for node in model.graph.node:
        if not is_fpgadataflow_node(node):
            continue
        facts = layer_facts(node)
        for memory in facts.memory_styles():
            share = {}
            for style in ("distributed", "block"):
                facts.set_memory_style(memory, style)
                share[style] = board.budget_share(_layer_cost(node, board.part))
            facts.set_memory_style(memory, min(share, key=share.get))
    _balance_memories(model, board)


def _layer_cost(node, fpgapart: str) -> dict[str, int]:
    inst = getCustomOp(node)
    fitted = calibration.estimate(node.op_type, calibration.features(inst, fpgapart))
    return {"LUT": fitted["LUT"], "LUTRAM": fitted["LUTRAM"], "BRAM": int(np.ceil(inst.bram_estimation(fpgapart)))}


def _balance_memories(model, board) -> None:
    """Move memories between LUTs and block RAM while a move lowers the larger of the two budget shares (LUT
    and BRAM18) and keeps every resource inside the budget: a design over the budget in one of them comes back
    inside it when the other has room, and one inside it keeps its headroom on the resource that binds (at the
    highest FPS that is LUT: idle BRAM takes ROMs). The moves that free the most of the tighter resource per
    share of the other go first."""
    rows = layer_table(model, board.part)
    totals, budget = on_chip_totals(rows), board.budget()
    on_chip = {r.name for r in rows if not r.host}
    by_name = {n.name: n for n in model.graph.node}

    def tighter(t: dict) -> str:
        return max(("LUT", "BRAM"), key=lambda k: t[k] / max(budget[k], 1))

    def peak(t: dict) -> float:
        return max(t[k] / max(budget[k], 1) for k in ("LUT", "BRAM"))

    over = tighter(totals)
    src, dst = ("distributed", "block") if over == "LUT" else ("block", "distributed")
    moves = []
    for node in model.graph.node:
        if node.name not in on_chip:
            continue
        facts = layer_facts(node)
        for memory, style in facts.memory_styles().items():
            if style != src:
                continue
            before = _layer_cost(node, board.part)
            facts.set_memory_style(memory, dst)
            after = _layer_cost(node, board.part)
            facts.set_memory_style(memory, src)
            delta = {k: after[k] - before[k] for k in after}
            if delta[over] < 0:
                other = max(delta[k] / max(budget[k], 1) for k in delta if k != over)
                moves.append((other / (-delta[over] / budget[over]), node.name, memory, delta))
    for _, name, memory, delta in sorted(moves, key=lambda m: m[0]):
        moved = {k: totals[k] + delta.get(k, 0) for k in totals}
        if peak(moved) >= peak(totals):
            continue
        if any(moved[k] > budget[k] for k in delta if k != over and delta[k] > 0):
            continue
        layer_facts(by_name[name]).set_memory_style(memory, dst)
        totals = moved


def unfold_all(model) -> None:
    """Set every layer to full parallelism (the fastest folding; for the best reachable FPS)."""
    for node in model.graph.node:
        if is_fpgadataflow_node(node):
            inst = getCustomOp(node)
            for attr, dim in knobs(node):
                inst.set_nodeattr(attr, int(dim))


def best_fps(model, clock_mhz: float) -> float:
    """FPS with every layer fully unfolded (on a copy of ``model``)."""
    from qonnx.core.modelwrapper import ModelWrapper

    fast = ModelWrapper(model.model.__deepcopy__())
    unfold_all(fast)
    return clock_mhz * 1e6 / max(1, performance(fast)["max_cycles"])


def performance(model) -> dict:
    """Cycles of the slowest layer of the accelerator (the initiation interval), its name, and the critical-path
    latency (sum of cycles along the longest input-to-output path; pessimistic, as FINN's). The host driver's
    steps at the graph's ends (:func:`~build_flows.sim.accelerator.split_host_steps`) are not the accelerator's."""
    from build_flows.sim.accelerator import host_step_names

    host = host_step_names(model)
    latency, worst, worst_name = {}, 0, ""
    for node in model.graph.node:
        if not is_fpgadataflow_node(node) or node.name in host:
            continue
        c = cycles(node)
        if c > worst:
            worst, worst_name = c, node.name
        preds = [p for p in (model.find_direct_predecessors(node) or []) if p.name in latency]
        latency[node.name] = c + max((latency[p.name] for p in preds), default=0)
    return {"max_cycles": int(worst), "max_cycles_node_name": worst_name,
            "critical_path_cycles": int(max(latency.values(), default=0))}


def io_cycles(model, axi_width: int) -> dict:
    """Cycles per image the accelerator's data path needs to move one image in and its result out,
    ``axi_width`` bits per cycle each way (the DMA at the accelerator's clock), at the boundary the host driver
    sees (after leading and before trailing host steps): {input_bits, output_bits, cycles}."""
    from build_flows.sim.accelerator import split_host_steps

    _, core, _ = split_host_steps(model)
    if not core:
        return {"input_bits": 0, "output_bits": 0, "cycles": 0}
    first, last = getCustomOp(core[0]), getCustomOp(core[-1])
    in_bits = int(np.prod(first.get_normal_input_shape(0))) * first.get_input_datatype(0).bitwidth()
    out_bits = int(np.prod(last.get_normal_output_shape(0))) * last.get_output_datatype(0).bitwidth()
    return {"input_bits": in_bits, "output_bits": out_bits,
            "cycles": max(-(-in_bits // axi_width), -(-out_bits // axi_width))}


def macs_by_precision(model) -> dict[str, int]:
    """Multiply-accumulates per image over the dataflow layers, by precision ("binary", "ternary", "int8 x
    ternary", ...)."""
    total: dict[str, int] = {}
    for n in model.graph.node:
        if is_fpgadataflow_node(n):
            for k, v in layer_facts(n).macs_by_precision().items():
                total[k] = total.get(k, 0) + int(v)
    return dict(sorted(total.items()))


def layer_table(model, fpgapart: str) -> list[LayerRow]:
    """Per layer: name, op, PE, SIMD, cycles, LUT, FF and LUTRAM (the models fitted to yosys,
    :mod:`build_flows.build.calibration`), BRAM (18k), URAM, DSP (FINN's and our estimates), and whether
    the host driver runs it instead of the accelerator (``split_host_steps``)."""
    from build_flows.sim.accelerator import host_step_names

    host = host_step_names(model)
    rows = []
    for node in model.graph.node:
        if not is_fpgadataflow_node(node):
            continue
        inst = getCustomOp(node)
        res = inst.node_res_estimation(fpgapart)
        fitted = calibration.estimate(node.op_type, calibration.features(inst, fpgapart))
        attrs = inst.get_nodeattr_types()
        rows.append(LayerRow(name=node.name, op=node.op_type, PE=inst.get_nodeattr("PE") if "PE" in attrs else None,
                             SIMD=inst.get_nodeattr("SIMD") if "SIMD" in attrs else None, cycles=cycles(node),
                             LUT=fitted["LUT"], BRAM=int(np.ceil(res.get("BRAM_18K", 0))),
                             URAM=int(res.get("URAM", 0)), DSP=int(res.get("DSP", 0)), host=node.name in host,
                             FF=fitted["FF"], LUTRAM=fitted["LUTRAM"]))
    return rows


def on_chip_totals(rows: list[LayerRow]) -> dict[str, int]:
    """LUT, FF, LUTRAM, BRAM (18k), URAM and DSP summed over the layers the accelerator runs (host steps left out)."""
    from build_flows.boards import RESOURCE_NAMES

    on_chip = [r for r in rows if not r.host]
    return {k: sum(getattr(r, k) for r in on_chip) for k in RESOURCE_NAMES}

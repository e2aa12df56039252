"""The fastest design that fits, in one command, and the budget it is checked against: `--target-fps max` (the
highest FPS whose estimate fits every resource type of the board), an over-budget target naming the highest FPS
that fits, the weight memory placed once for both the estimate and the RTL, and the data path's bound on FPS."""

import glob
import json

import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from build_flows.boards import get_board
from build_flows.build.folding import decide_memories, layer_table, on_chip_totals, performance, set_folding
from build_flows.cli import main
from build_flows.layers.base import rom_logic_lut_dense
from quant_models.bnn_pynq import export_bnn_pynq


@pytest.fixture(scope="module")
def lfc(tmp_path_factory):
    """FINN's LFC-W1A1 (784-1024-1024-1024-10, binary): far over any small board when unfolded."""
    return export_bnn_pynq("lfc_1w1a", tmp_path_factory.mktemp("lfc") / "lfc.onnx")


def _specialized(build_dir):
    return ModelWrapper(sorted(glob.glob(f"{build_dir}/checkpoints/*_specialize_layers.onnx"))[0])


def test_target_fps_max_is_the_fastest_folding_within_every_budget(lfc, tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["build", str(lfc), "--board", "Pynq-Z2", "--target-fps", "max", "--until", "estimates",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    board = get_board("Pynq-Z2")
    est = report["estimated"]
    assert report["folding"]["target"] == "max" and report["folding"]["limited_by"] == "the board's budget"
    assert board.over_budget(est) == [] and est["URAM"] == 0
    # binary operations (2 per MAC) against a ceiling of the same cost model: at most 1 for a design that fits
    assert report["ops_per_image"] == {"binary": 2 * (784 * 1024 + 1024 * 1024 * 2 + 1024 * 10)}
    assert 0 < report["roofline_fraction"] <= 1
    assert "highest FPS within budget" in capsys.readouterr().out
    # the next faster balanced folding does not fit: the search found the edge
    model = _specialized(out)
    cycles = report["folding"]["target_cycles"]
    set_folding(model, cycles - 1)
    decide_memories(model, board)
    assert performance(model)["max_cycles"] < cycles
    assert board.over_budget(on_chip_totals(layer_table(model, board.part))) != []


def test_an_over_budget_target_names_the_highest_fps_that_fits(lfc, tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["build", str(lfc), "--board", "Pynq-Z2", "--target-fps", "2000000", "--until", "estimates",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "over Pynq-Z2's budget" in err and "LUT" in err and "The highest FPS that fits is" in err
    assert "--target-fps max" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0", "fast"])
def test_a_bad_target_fps_is_refused_with_its_reason(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["build", "x.onnx", "--target-fps", value, "--out", str(tmp_path / "b")])
    assert e.value.code == 2
    assert "--target-fps" in capsys.readouterr().err


def test_weight_memory_is_one_decision_for_estimate_and_rtl(lfc, tmp_path):
    """Per board and size: a small ROM goes to LUTRAM (LUTs in the estimate, no BRAM), a deep one to BRAM; the RTL
    the layer generates reads the same choice."""
    out = tmp_path / "b"
    assert main(["build", str(lfc), "--board", "Pynq-Z2", "--target-fps", "1000", "--until", "specialize_layers",
                 "--out", str(out)]) == 0
    model = _specialized(out)
    board = get_board("Pynq-Z2")
    mvaus = [getCustomOp(n) for n in model.graph.node if n.op_type == "MVAU_lut_rtl"]
    for m in mvaus:  # 1024x1024 at PE=SIMD=1: a 1 M x 1 ROM (20,480 LUTs or 64 BRAM18); the 1024x10 head unfolded:
        head = m.get_nodeattr("MH") == 10  # one word of 10,240 bits (constants in LUTs, or 285 BRAM18: over the board)
        m.set_nodeattr("PE", 10 if head else 1)
        m.set_nodeattr("SIMD", 1024 if head else 1)
    decide_memories(model, board)
    assert [m.get_nodeattr("ram_style") for m in mvaus] == ["block", "block", "block", "distributed"]
    for m in mvaus:
        lut_block = m.lut_estimation()
        if m.weight_style() == "block":
            assert m.bram_estimation() > 0
            m.set_nodeattr("ram_style", "distributed")  # the same layer with its ROM in LUTs costs the ROM's LUTs
            assert m.lut_estimation() - lut_block == rom_logic_lut_dense(*m.weight_rom())
            assert m.bram_estimation() == 0
            m.set_nodeattr("ram_style", "block")
        else:
            assert m.bram_estimation() == 0
        assert m.uram_estimation() == 0
        assert m.rtl_shape().ram_style == m.get_nodeattr("ram_style")
        m.set_nodeattr("code_gen_dir_ipgen", str(tmp_path / m.onnx_node.name))
        m.generate_hdl(model, board.part, 10.0)
        wrapper = (tmp_path / m.onnx_node.name / f"{m.onnx_node.name}.sv").read_text()
        assert f'.RAM_STYLE("{m.get_nodeattr("ram_style")}")' in wrapper


def test_the_data_path_bounds_the_fps(tmp_path):
    """TFC's float input (784 x 32 bits) through a 128-bit data path takes 196 cycles per image: the estimate
    is never faster, and --target-fps max stops there."""
    onnx = export_bnn_pynq("tfc_1w1a", tmp_path / "tfc.onnx")
    assert main(["build", str(onnx), "--board", "AUP-ZU3", "--until", "estimates", "--out", str(tmp_path / "b")]) == 0
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    est = report["estimated"]
    assert est["io_cycles_per_image"] == 784 * 32 // 128 and est["cycles_per_image"] >= est["io_cycles_per_image"]
    assert report["folding"]["limited_by"] == "the data path (128 bits per cycle)"


def test_memories_move_to_the_resource_with_room(lfc, tmp_path):
    """When each layer's own choice leaves BRAM over the budget and LUTs have room, the build moves memories to
    LUTs (those that free the most BRAM per LUT first) until BRAM fits; the moved layers' estimates and RTL
    parameters follow (one decision)."""
    import dataclasses

    from build_flows.build.folding import _balance_memories
    from build_flows.layers import layer_facts

    assert main(["build", str(lfc), "--board", "Pynq-Z2", "--target-fps", "20000", "--until", "estimates",
                 "--out", str(tmp_path / "b")]) == 0
    model = ModelWrapper(sorted(glob.glob(f"{tmp_path}/b/checkpoints/*_folding.onnx"))[0])
    roomy = get_board("Pynq-Z2")
    for node in model.graph.node:  # each memory to BRAM, the cheaper for these ROMs, before balancing
        for memory in layer_facts(node).memory_styles():
            layer_facts(node).set_memory_style(memory, "block")
    alone = on_chip_totals(layer_table(model, roomy.part))
    styles = {n.name: layer_facts(n).memory_styles() for n in model.graph.node}
    assert alone["BRAM"] >= 4 and any("block" in s.values() for s in styles.values())
    tight = dataclasses.replace(roomy, bram36=(alone["BRAM"] - 3) // 2)  # a few BRAM18 short
    assert tight.over_budget(alone) and not tight.over_budget({**alone, "BRAM": 0})
    _balance_memories(model, tight)
    after = on_chip_totals(layer_table(model, tight.part))
    assert tight.over_budget(after) == [] and after["LUT"] > alone["LUT"]
    moved = [(n.name, m) for n in model.graph.node for m, s in layer_facts(n).memory_styles().items()
             if s != styles[n.name][m]]
    assert moved and all(layer_facts(n).memory_styles()[m] == "distributed"
                         for n in model.graph.node for name, m in moved if n.name == name)


def test_sized_fifos_count_against_the_budget():
    """The FIFOs the simulation sized are placed for the board (a deep one in BRAM, a shallow one in LUTRAM), their
    cost is added to the layers', and a design that fits without them but not with them is refused, naming the
    FIFOs' share and the fix; the sizing stays in the report."""
    from types import SimpleNamespace

    from build_flows.build.context import BuildError
    from build_flows.build.fifos import fifo_cost
    from build_flows.build.report import BuildReport, Estimate
    from build_flows.build.steps_rtl import _place_fifos

    board = get_board("Pynq-Z2")
    layers = Estimate(cycles_per_image=1, fps=1.0, latency_us=1.0, bottleneck="x", LUT=20_000, BRAM=150, FF=10_000)
    ctx = SimpleNamespace(board=board, report=BuildReport(estimated=layers))
    sizing = {"depths": {"a": 2, "b": 6000}}
    _place_fifos(ctx, sizing, [2, 6000], [16, 64])
    assert sizing["styles"] == {"a": "distributed", "b": "block"}
    assert sizing["resources"]["BRAM"] == fifo_cost(6000, 64, "block")["BRAM"] == 24
    assert sizing["with_layers"]["BRAM"] == 174 and sizing["with_layers"]["LUT"] == 20_000 + sizing["resources"]["LUT"]
    sizing = {"depths": {"a": 2, "b": 13671}}
    with pytest.raises(BuildError, match=r"with its FIFOs .* over Pynq-Z2's budget: .*BRAM.*Lower --target-fps"):
        _place_fifos(ctx, sizing, [2, 13671], [8, 192])
    assert sizing["resources"]["BRAM"] == 154


def test_the_binding_resource_hands_memories_to_the_idle_one(tmp_path):
    """A design that fits but leans on LUTs (every memory in LUTs) gets memories moved to block RAM while that
    lowers the larger of the LUT and BRAM18 shares: its peak share drops, and where it stops no single further move
    lowers it (or the move would leave the budget). This is what frees LUTs at --target-fps max."""
    from build_flows.build.folding import _balance_memories, _layer_cost
    from build_flows.layers import layer_facts

    tfc = export_bnn_pynq("tfc_1w1a", tmp_path / "tfc.onnx")  # 64-wide layers: 4,096 x 1 weight ROMs
    assert main(["build", str(tfc), "--board", "AUP-ZU3", "--target-fps", "5311", "--until", "estimates",
                 "--out", str(tmp_path / "b")]) == 0
    model = ModelWrapper(sorted(glob.glob(f"{tmp_path}/b/checkpoints/*_folding.onnx"))[0])
    board = get_board("AUP-ZU3")
    budget = board.budget()

    def peak(t):
        return max(t["LUT"] / budget["LUT"], t["BRAM"] / budget["BRAM"])

    for node in model.graph.node:
        for memory in layer_facts(node).memory_styles():
            layer_facts(node).set_memory_style(memory, "distributed")
    lut_bound = on_chip_totals(layer_table(model, board.part))
    assert board.over_budget(lut_bound) == [] and lut_bound["LUT"] / budget["LUT"] > lut_bound["BRAM"] / budget["BRAM"]
    _balance_memories(model, board)
    after = on_chip_totals(layer_table(model, board.part))
    assert board.over_budget(after) == [] and peak(after) < peak(lut_bound) and after["BRAM"] > lut_bound["BRAM"]
    for node in model.graph.node:  # no move left that would lower the peak share inside the budget
        facts = layer_facts(node)
        for memory, style in facts.memory_styles().items():
            if style != "distributed":
                continue
            before = _layer_cost(node, board.part)
            facts.set_memory_style(memory, "block")
            moved = {k: after[k] + _layer_cost(node, board.part)[k] - before[k] for k in before}
            facts.set_memory_style(memory, "distributed")
            assert peak({**after, **moved}) >= peak(after) or board.over_budget({**after, **moved})

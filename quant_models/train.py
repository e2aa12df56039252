"""Quantization-aware training: AdamW, warm-up + cosine schedule, label smoothing, gradient
clipping, distillation from a teacher, a checkpoint every epoch, and exact resumption.

``train(TrainConfig(...))`` writes ``out/checkpoint.pt`` (weights, optimizer, schedule and RNG
state; resumable), ``out/model.pt`` (weights only, what ``load_checkpoint`` and ``qvit export``
read) and ``out/metrics.json`` (per-epoch train/val accuracy, test top-1, wall time, images/s).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from quant_models import data as datasets
from quant_models.checkpoint import atomic_save, load_checkpoint, load_failure, save_checkpoint
from quant_models.data.augment import PRESETS, augment, mix
from quant_models.prune import l1_penalty
from quant_models.quantizers import CALIBRATION_STEPS
from quant_models.registry import config_fields, create_model

# Patch size per input size: 8x8 digits need small patches; 28 and 32 use 4x4 patches.
PATCH_FOR_SIZE = {8: 2}


@dataclass
class TrainConfig:
    """Every knob of a training run."""

    model: str
    dataset: str
    out: str
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    clip_grad: float = 1.0
    preset: str = "light"
    seed: int = 0
    threads: int = 2
    device: str = "auto"  # auto (a GPU when there is one) | cpu | cuda | cuda:N
    scale_lr: bool = False  # lr is for batch 128; scale it linearly with the batch size
    data_root: str | None = None
    max_train: int | None = None
    val_size: int = 5000
    teacher: str | None = None
    distill: str = "soft"
    distill_alpha: float = 0.5
    distill_tau: float = 1.0
    overrides: dict = field(default_factory=dict)
    progress: bool = True
    prune_l1: float = 0.0  # L1 weight on pruning gates (models built with prune_gates=True)
    init: str | None = None  # start from this checkpoint's weights and config (e.g. a pruned model)
    stop_after: int | None = None  # end this invocation after N epochs (the run stays resumable)
    time_limit: float | None = None  # minutes: end this invocation before an epoch that would end past them (resumable)

    def __post_init__(self):
        import math

        for name in ("epochs", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("max_train", "stop_after"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "distill_tau", "time_limit"):
            if getattr(self, name) is None:
                continue
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive, finite number, got {value}")
        for name in ("weight_decay", "warmup_epochs"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
        if not 0 <= float(self.label_smoothing) < 1:
            raise ValueError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= float(self.distill_alpha) <= 1:
            raise ValueError(f"--distill-alpha must be in [0, 1], got {self.distill_alpha}")
        if not math.isfinite(float(self.prune_l1)) or float(self.prune_l1) < 0:
            raise ValueError(f"--prune-l1 must be 0 or more, got {self.prune_l1}")
        resolve_device(self.device)

    @property
    def effective_lr(self) -> float:
        """The peak learning rate used: ``lr``, times batch_size / 128 with ``scale_lr`` (the linear
        scaling rule; 128 is the batch of the shipped recipes)."""
        return self.lr * (self.batch_size / REFERENCE_BATCH if self.scale_lr else 1.0)


REFERENCE_BATCH = 128


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the first CUDA GPU when torch sees one, else the CPU; ``cpu``, ``cuda`` and ``cuda:N``
    as given. Raises ValueError for an unknown name or a GPU that is not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: torch sees no CUDA GPU here (torch {torch.__version__}, "
                             f"CUDA build {torch.version.cuda or 'none'}); use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA GPUs")
    return device


def dataset_fields(ds: datasets.ImageSet) -> dict:
    """The config fields every model takes from its dataset: input size, channels, classes."""
    c, h, _ = ds.shape
    return dict(img_size=h, in_chans=c, num_classes=len(ds.classes))


def model_overrides(ds: datasets.ImageSet, model: str, preset) -> dict:
    """Config fields a training run sets on ``model``: input size, channels and classes from the
    dataset, plus the patch size for small inputs and the preset's dropout and stochastic depth,
    each only if the model's declared config has that field."""
    out = dataset_fields(ds)
    fields = config_fields(model) or frozenset(out)
    optional = dict(patch_size=PATCH_FOR_SIZE.get(out["img_size"]), drop_path=preset.drop_path, dropout=preset.dropout)
    out.update({k: v for k, v in optional.items() if v and k in fields})
    return out


def check_fits_dataset(model, ds: datasets.ImageSet, dataset: str, role: str, path: str) -> None:
    """Raise a ValueError if a loaded checkpoint (``role``: "--teacher" or "--init") was built for other
    inputs or classes than ``ds``."""
    want = dataset_fields(ds)
    have = {k: getattr(model.cfg, k, None) for k in want}
    if have != want:
        raise ValueError(
            f"{role} {path} takes {have['img_size']}x{have['img_size']}x{have['in_chans']} inputs and "
            f"{have['num_classes']} classes, but {dataset} has {want['img_size']}x{want['img_size']}x{want['in_chans']} "
            f"and {want['num_classes']}. "
            f"Use a checkpoint trained on {dataset} (train one with `qvit train --dataset {dataset}`).")


def to_unit_float(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, C] -> float [B, C, H, W] in [0, 1] (augmentation works here)."""
    return images_u8.permute(0, 3, 1, 2).float() / 255.0


def standardise(x01: torch.Tensor, mean, std) -> torch.Tensor:
    m = torch.tensor(mean, device=x01.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x01.device).view(1, -1, 1, 1)
    return (x01 - m) / s


def evaluate(model, ds: datasets.ImageSet, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) of ``model`` on an ImageSet, computed on the device the model is on."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    with torch.no_grad():
        for i in range(0, len(ds), batch_size):
            # torch.tensor copies: a cached test set may be read-only
            x = standardise(to_unit_float(torch.tensor(ds.images[i:i + batch_size], device=device)), ds.mean, ds.std)
            correct += (model(x).argmax(1).cpu().numpy() == ds.labels[i:i + batch_size]).sum()
    return float(100.0 * correct / max(1, len(ds)))


def device_name(device: torch.device) -> str:
    """``cpu`` or the GPU's name (``cuda: NVIDIA H200``), as recorded in metrics.json."""
    return f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "cpu"


def _cpu(state: dict) -> dict:
    """A state dict with every tensor on the CPU (checkpoints load anywhere)."""
    return {k: v.cpu() if torch.is_tensor(v) else v for k, v in state.items()}


def _lr_at(step, total, warmup, base):
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _distill_loss(cfg: TrainConfig, out, target_soft, teacher_logits):
    """Loss of a student output (logits or (cls, dist) with a distillation token)."""
    cls, dist = out if isinstance(out, tuple) else (out, out)
    ce = torch.sum(-target_soft * F.log_softmax(cls, 1), 1).mean()
    if teacher_logits is None:
        return ce
    if cfg.distill == "hard":
        kd = F.cross_entropy(dist, teacher_logits.argmax(1))
    else:
        tau = cfg.distill_tau
        kd = F.kl_div(F.log_softmax(dist / tau, 1), F.log_softmax(teacher_logits / tau, 1), reduction="batchmean",
                      log_target=True) * tau * tau
    return (1 - cfg.distill_alpha) * ce + cfg.distill_alpha * kd


def calibrate(model, images_u8: torch.Tensor, mean, std, batch_size: int) -> None:
    """Run the activation-scale statistics passes (train mode, no gradient) on the first batches,
    so that every learned scale is initialised before the first optimizer step."""
    model.train()
    with torch.no_grad():
        for i in range(CALIBRATION_STEPS + 1):
            start = (i * batch_size) % max(1, len(images_u8) - batch_size)
            model(standardise(to_unit_float(images_u8[start:start + batch_size]), mean, std))


def lineage(init: str | Path) -> dict | None:
    """Provenance of a checkpoint that a run starts from (``--init``): the commands, epochs and wall
    time that produced it, earlier continuations included, and its test top-1. Read from the metrics
    beside it (``NAME.json`` of a shipped checkpoint or ``metrics.json`` of a run directory); None when
    there are none."""
    init = Path(init)
    for meta in (init.with_suffix(".json"), init.parent / "metrics.json"):
        if meta.exists():
            m = json.loads(meta.read_text())
            break
    else:
        return None
    before = m.get("continued_from", {"commands": [], "epochs": 0, "wall_seconds": 0.0})
    return {"commands": before["commands"] + m.get("commands", []),
            "epochs": before["epochs"] + len(m.get("epochs", [])),
            "wall_seconds": before["wall_seconds"] + m.get("wall_seconds", 0.0),
            "test_top1": m.get("test_top1")}


# Settings that --resume may change: they do not affect the numbers a run computes.
# The device is one of them: a run may start on a GPU and end on the CPU (its float rounding then
# follows the new device; the quantized forward's integer ops are the same bits on every device).
RESUMABLE_CHANGES = {"out", "progress", "threads", "stop_after", "time_limit", "device"}


def _check_same_run(cfg: TrainConfig, started: dict, out: Path) -> None:
    """Raise ValueError when ``cfg`` differs from the settings the run in ``out`` was started with in
    anything but :data:`RESUMABLE_CHANGES`: resuming continues the same schedule and data order, so a
    changed setting would silently produce a run that no single command describes."""
    now = dataclasses.asdict(cfg)
    changed = [f"{k} {started[k]!r} -> {now[k]!r}" for k in now
               if k in started and k not in RESUMABLE_CHANGES and started[k] != now[k]]
    if changed:
        raise ValueError(f"--resume continues the run in {out} with its own settings, but these differ: {'; '.join(changed)}. "
                         "Repeat the original options, or start a new run from its weights with "
                         f"--init {out}/checkpoint.pt and the new options.")


def train(cfg: TrainConfig, resume: bool = False, command: str = "") -> dict:
    """Run (or resume) a training run; returns the metrics dict also written to metrics.json.
    ``command`` (the command line that started it, if any) is recorded in the metrics."""
    if cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; available: {', '.join(PRESETS)}")
    if cfg.distill not in ("soft", "hard"):
        raise ValueError(f"--distill must be 'soft' or 'hard', got {cfg.distill!r}")
    started_at = time.time()
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    if out.exists() and ckpt_path.exists() and not resume:
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    preset = PRESETS[cfg.preset]

    full = datasets.load(cfg.dataset, "train", cfg.data_root)
    test = datasets.load(cfg.dataset, "test", cfg.data_root)
    order = np.random.default_rng(cfg.seed).permutation(len(full))
    val_size = min(cfg.val_size, len(full) // 5)
    val, train_set = full.subset(order[:val_size]), full.subset(order[val_size:])
    if cfg.max_train:
        train_set = train_set.subset(np.arange(min(cfg.max_train, len(train_set))))

    overrides = {**model_overrides(full, cfg.model, preset), **cfg.overrides}
    if cfg.init:
        model = load_checkpoint(cfg.init, **cfg.overrides)
        check_fits_dataset(model, full, cfg.dataset, "--init", cfg.init)
        overrides = {**getattr(model, "config_overrides", {}), **cfg.overrides}
    else:
        model = create_model(cfg.model, **overrides)
    teacher = load_checkpoint(cfg.teacher).eval().to(device) if cfg.teacher else None
    if teacher is not None:
        check_fits_dataset(teacher, full, cfg.dataset, "--teacher", cfg.teacher)
    steps_per_epoch = len(train_set) // cfg.batch_size
    total, warmup = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(cfg.seed)
    metrics = {"model": cfg.model, "dataset": cfg.dataset, "config": overrides,
               "train_config": dataclasses.asdict(cfg), "epochs": [], "wall_seconds": 0.0}
    metrics["device"] = device_name(device)
    if cfg.init and (before := lineage(cfg.init)):
        metrics["continued_from"] = before
    start_epoch = 0
    if resume:
        if not ckpt_path.exists():
            raise FileNotFoundError(f"--resume given but {ckpt_path} does not exist; start the run without --resume")
        try:  # tensors and plain data only: a crafted file cannot run code when it is read
            state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError, ...
            raise ValueError(f"{ckpt_path} is not a run checkpoint of `qvit train` ({load_failure(e)}); "
                             "start the run afresh in another --out") from None
        if not isinstance(state, dict) or not {"state_dict", "metrics", "epoch"} <= set(state):
            raise ValueError(f"{ckpt_path} is not a run checkpoint of `qvit train` (no state_dict, metrics and epoch); "
                             "start the run afresh in another --out")
        _check_same_run(cfg, state["metrics"]["train_config"], out)
        model.load_state_dict(state["state_dict"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        metrics, start_epoch = state["metrics"], state["epoch"]
    out.mkdir(parents=True, exist_ok=True)
    model.to(device)

    # the whole training set lives on the device as uint8; batches are cut, augmented and mixed there
    images = torch.from_numpy(train_set.images).to(device)
    labels = torch.from_numpy(train_set.labels).to(device)
    if not resume and not cfg.init:
        calibrate(model, images, full.mean, full.std, cfg.batch_size)
    # Built only now: Brevitas replaces its scale parameters when a state dict is loaded, and an
    # optimizer made earlier would keep updating the discarded ones.
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.effective_lr)
    if resume:
        opt.load_state_dict(state["optimizer"])
    n_cls = len(full.classes)
    if command:
        metrics.setdefault("commands", []).append(command)
    end_epoch = cfg.epochs if cfg.stop_after is None else min(cfg.epochs, start_epoch + cfg.stop_after)
    for epoch in range(start_epoch, end_epoch):
        if epoch > start_epoch and cfg.time_limit is not None and \
                time.time() - started_at + metrics["epochs"][-1]["seconds"] > 60 * cfg.time_limit:
            break  # the next epoch, as long as the last, would end past the time box: stop with it saved
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(train_set), generator=gen)
        seen = correct = 0
        loss_sum = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not cfg.progress,
                   dynamic_ncols=True, leave=False)
        for i in bar:
            step = epoch * steps_per_epoch + i
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, total, warmup, cfg.effective_lr)
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size].to(device)
            x = augment(to_unit_float(images[idx]), preset, gen)
            y = labels[idx]
            soft = F.one_hot(y.long(), n_cls).float() * (1 - cfg.label_smoothing) + cfg.label_smoothing / n_cls
            x, soft = mix(x, soft, gen, preset.mixup_alpha, preset.cutmix_alpha)
            x = standardise(x, full.mean, full.std)
            t_logits = None
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(x)
            outp = model(x)
            loss = _distill_loss(cfg, outp, soft, t_logits)
            if cfg.prune_l1:
                loss = loss + cfg.prune_l1 * l1_penalty(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
            logits = outp[0] if isinstance(outp, tuple) else outp
            seen += len(y)
            correct += (logits.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(y)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}",
                            img_s=f"{seen / (time.time() - t0):.0f}")
        seconds = time.time() - t0
        val_acc = evaluate(model, val)
        record = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, seen), "train_acc": 100 * correct / max(1, seen),
                  "val_acc": val_acc, "seconds": seconds, "images_per_s": seen / max(seconds, 1e-9),
                  "device": device_name(device)}
        metrics["epochs"].append(record)
        metrics["wall_seconds"] += seconds
        # one line per epoch, with or without the progress bar (the log of a background run)
        print(f"epoch {epoch + 1}/{cfg.epochs}: loss {record['train_loss']:.3f} train {record['train_acc']:.1f}% "
              f"val {val_acc:.2f}% ({seconds:.0f} s, {record['images_per_s']:.0f} img/s)", flush=True)
        atomic_save(ckpt_path, {"model": cfg.model, "config": overrides, "state_dict": _cpu(model.state_dict()),
                                "optimizer": opt.state_dict(), "generator": gen.get_state(),
                                "torch_rng": torch.get_rng_state(), "epoch": epoch + 1, "metrics": metrics})
    if len(metrics["epochs"]) < cfg.epochs:
        return metrics
    metrics["test_top1"] = evaluate(model, test)
    metrics["test_size"] = len(test)
    metrics["train_images_per_s"] = float(np.mean([e["images_per_s"] for e in metrics["epochs"]])) if metrics["epochs"] else 0
    save_checkpoint(out / "model.pt", cfg.model, overrides, _cpu(model.state_dict()),
                    test_top1=metrics["test_top1"], dataset=cfg.dataset)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics

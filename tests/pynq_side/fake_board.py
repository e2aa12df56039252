"""Runs in the pynq environment (pynq 4.0.0, numpy<2; `make setup` makes .venv-pynq): the package's
qvit_driver with its pynq backend over the thinnest fake of a board that can exist here. pynq's real
``allocate`` hands out real ``PynqBuffer`` arrays from a fake ``pynq.Device`` (set as the active device); the
fake IODMAs are register files that, when the input DMA is started, read the input buffer at the address the
driver wrote and write the accelerator's answer (``answer``: the first output byte of each image is the sum of
its input bytes mod 256) into the buffer at the output address. Prints one JSON line of what it saw.

Usage: python fake_board.py PACKAGE_DIR ok|hang
"""

import json
import sys

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

sys.path.insert(0, sys.argv[1])
from qvit_driver.accelerator import Accelerator  # noqa: E402
from qvit_driver.backends import AP_CTRL, AP_DONE, AP_IDLE, AP_START, PynqBackend  # noqa: E402


class FakeDevice(pynq.Device):
    def __init__(self):
        super().__init__("fake")
        self.buffers, self.next_address, self.syncs = {}, 0x1000_0000_0000, []

    def allocate(self, shape, dtype, **kwargs):
        buf = PynqBuffer(shape, dtype, device=self, device_address=self.next_address, bo=len(self.buffers),
                         coherent=False)
        self.buffers[self.next_address] = buf
        self.next_address += 0x10_0000
        return buf

    def flush(self, bo, offset, ptr, size):
        self.syncs.append(("flush", bo))

    def invalidate(self, bo, offset, ptr, size):
        self.syncs.append(("invalidate", bo))


class FakeIODMA:
    def __init__(self, device, log, partner=None, hang=False):
        self.device, self.log, self.partner, self.hang = device, log, partner, hang
        self.regs = {AP_CTRL: AP_IDLE}

    def read(self, offset):
        return self.regs.get(offset, 0)

    def write(self, offset, value):
        self.log.append((self.name, hex(offset), int(value)))
        self.regs[offset] = int(value)
        if offset == AP_CTRL and value & AP_START and self.partner is not None and not self.hang:
            self.partner.answer(self)

    def address(self):
        return self.regs[0x10] | self.regs[0x14] << 32

    def answer(self, idma):
        """The output DMA's side: the accelerator's answer for the images in the input buffer."""
        src, dst = self.device.buffers[idma.address()], self.device.buffers[self.address()]
        n = self.regs[0x1C]
        dst[:] = 0
        dst[:n, 0, 0] = src[:n].reshape(n, -1).sum(axis=1) % 256
        self.regs[AP_CTRL] = AP_DONE | AP_IDLE


def main():
    package, mode = sys.argv[1], sys.argv[2]
    device = FakeDevice()
    pynq.Device.active_device = device
    log = []
    odma = FakeIODMA(device, log)
    idma = FakeIODMA(device, log, partner=odma, hang=(mode == "hang"))
    odma.name, idma.name = "odma0", "idma0"

    class Overlay:  # the loaded bitfile: its IODMAs by name, as pynq.Overlay gives them
        idma0, odma0 = idma, odma

    desc = json.loads(open(f"{package}/accelerator.json").read())
    acc = Accelerator(desc, PynqBackend(Overlay(), pynq.allocate, desc, timeout_s=0.5))
    x = np.arange(2 * 16, dtype=np.float32).reshape(2, 1, 4, 4) % 7
    try:
        out = acc.execute(x)
        result = {"outputs": out.tolist()}
    except Exception as e:  # noqa: BLE001 - reported to the test
        result = {"error": f"{type(e).__name__}: {e}"}
    result.update(registers=log, syncs=device.syncs, buffers=len(device.buffers), numpy=np.__version__,
                  pynq=pynq.__version__)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

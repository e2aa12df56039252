#!/usr/bin/env bash
# Entry point of the qvit-fpga image: load Vivado's environment when the host mounted it, then run `qvit`.
set -euo pipefail
if [[ -n "${VIVADO_SETTINGS:-}" ]]; then
    if [[ ! -f "$VIVADO_SETTINGS" ]]; then
        echo "error: VIVADO_SETTINGS=$VIVADO_SETTINGS is not a file: mount Vivado from the host (-v /tools/Xilinx:/tools/Xilinx:ro)" >&2
        exit 2
    fi
    # shellcheck disable=SC1090
    source "$VIVADO_SETTINGS"
fi
exec qvit "$@"

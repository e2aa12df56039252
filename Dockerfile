# qvit-fpga with FINN (finn-plus), Verilator and yosys, for users who have Vivado: mount it from the host
# (as FINN's image does) and the build continues past the estimates to the stitched IP and the bitfile.
#
#   docker build -t qvit-fpga .
#   docker run --rm -v /tools/Xilinx:/tools/Xilinx:ro -e VIVADO_SETTINGS=/tools/Xilinx/Vivado/2022.2/settings64.sh \
#       -v "$PWD/work:/work" qvit-fpga build binaryvit-tiny-hw --out /work/b
#
# The install steps are `make setup`, exactly as CI runs them (tests/test_dockerfile.py checks this).
FROM debian:12.11-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    FINN_BUILD_DIR=/tmp/finn_build \
    PATH=/opt/qvit-fpga/.venv/bin:$PATH

# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-pip ca-certificates make g++ dataset-fashion-mnist \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/qvit-fpga
COPY . .
RUN make setup PYTHON=python3

ENTRYPOINT ["/opt/qvit-fpga/docker/entrypoint.sh"]
CMD ["--help"]

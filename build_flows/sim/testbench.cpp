// AXI-stream testbench for a Verilated top `qvit_sim_top` with FINN port names
// (ap_clk, ap_rst_n, in0_V_*, out0_V_*). Compiled by build_flows/sim/verilator.py.
//
// usage: sim IN_FILE OUT_FILE N_IN_BEATS N_OUT_BEATS IN_PER_IMAGE OUT_PER_IMAGE P_IN_STALL P_OUT_STALL SEED MAX_CYCLES
// IN_FILE holds N_IN_BEATS beats of IN_BYTES bytes (little-endian), OUT_FILE receives N_OUT_BEATS beats
// of OUT_BYTES bytes. The source stalls (holds valid low) with probability P_IN_STALL per cycle, never
// withdrawing a beat it has offered; the sink holds ready low with probability P_OUT_STALL.
// Prints one JSON object with cycle counts on stdout.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "Vqvit_sim_top.h"
#include "verilated.h"

#ifndef IN_BYTES
#error "IN_BYTES must be defined"
#endif
#ifndef OUT_BYTES
#error "OUT_BYTES must be defined"
#endif

template <typename T> static void put(T& port, const uint8_t* b, int n) {
    uint64_t v = 0;
    std::memcpy(&v, b, n < 8 ? n : 8);
    port = static_cast<T>(v);
}
template <std::size_t W> static void put(VlWide<W>& port, const uint8_t* b, int n) {
    for (std::size_t w = 0; w < W; ++w) {
        uint32_t v = 0;
        int off = static_cast<int>(w) * 4;
        if (off < n) std::memcpy(&v, b + off, (n - off) < 4 ? (n - off) : 4);
        port[w] = v;
    }
}
template <typename T> static void get(const T& port, uint8_t* b, int n) {
    uint64_t v = static_cast<uint64_t>(port);
    std::memcpy(b, &v, n < 8 ? n : 8);
}
template <std::size_t W> static void get(const VlWide<W>& port, uint8_t* b, int n) {
    for (std::size_t w = 0; w < W; ++w) {
        uint32_t v = port[w];
        int off = static_cast<int>(w) * 4;
        if (off < n) std::memcpy(b + off, &v, (n - off) < 4 ? (n - off) : 4);
    }
}

static uint64_t rng_state;
static inline double uniform() {  // xorshift64*
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return static_cast<double>((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

int main(int argc, char** argv) {
    if (argc != 11) {
        std::fprintf(stderr, "usage: %s IN OUT N_IN N_OUT IN_PER_IMG OUT_PER_IMG P_IN P_OUT SEED MAX_CYCLES\n", argv[0]);
        return 2;
    }
    const long n_in = std::atol(argv[3]), n_out = std::atol(argv[4]);
    const long in_per = std::atol(argv[5]), out_per = std::atol(argv[6]);
    const double p_in = std::atof(argv[7]), p_out = std::atof(argv[8]);
    rng_state = std::strtoull(argv[9], nullptr, 10) * 0x9E3779B97F4A7C15ULL + 1;
    const long max_cycles = std::atol(argv[10]);

    std::vector<uint8_t> in(static_cast<size_t>(n_in) * IN_BYTES), out(static_cast<size_t>(n_out) * OUT_BYTES);
    FILE* f = std::fopen(argv[1], "rb");
    if (!f || std::fread(in.data(), 1, in.size(), f) != in.size()) {
        std::fprintf(stderr, "cannot read %ld beats from %s\n", n_in, argv[1]);
        return 2;
    }
    std::fclose(f);

    VerilatedContext ctx;
    Vqvit_sim_top top(&ctx);
    top.ap_clk = 0;
    top.ap_rst_n = 0;
    top.in0_V_TVALID = 0;
    top.out0_V_TREADY = 0;
    for (int i = 0; i < 8; ++i) {
        top.ap_clk = 0; top.eval();
        top.ap_clk = 1; top.eval();
    }
    top.ap_rst_n = 1;

    long in_idx = 0, out_idx = 0, cycle = 0;
    bool offering = false;
    std::vector<long> first_in, last_out;  // per image: cycle its first beat entered / its last beat left
    auto t0 = std::chrono::steady_clock::now();
    while (out_idx < n_out && cycle < max_cycles) {
        if (!offering && in_idx < n_in && !(p_in > 0 && uniform() < p_in)) {
            put(top.in0_V_TDATA, &in[static_cast<size_t>(in_idx) * IN_BYTES], IN_BYTES);
            offering = true;
        }
        top.in0_V_TVALID = offering;
        top.out0_V_TREADY = !(p_out > 0 && uniform() < p_out);
        top.ap_clk = 0;
        top.eval();
        const bool in_fire = offering && top.in0_V_TREADY;
        if (top.out0_V_TVALID && top.out0_V_TREADY) {
            get(top.out0_V_TDATA, &out[static_cast<size_t>(out_idx) * OUT_BYTES], OUT_BYTES);
            ++out_idx;
            if (out_idx % out_per == 0) last_out.push_back(cycle);
        }
        top.ap_clk = 1;
        top.eval();
        if (in_fire) {
            if (in_idx % in_per == 0) first_in.push_back(cycle);
            ++in_idx;
            offering = false;
        }
        ++cycle;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    top.final();

    f = std::fopen(argv[2], "wb");
    std::fwrite(out.data(), 1, static_cast<size_t>(out_idx) * OUT_BYTES, f);
    std::fclose(f);

    std::printf("{\"cycles\": %ld, \"in_beats\": %ld, \"out_beats\": %ld, \"seconds\": %.6f, \"timeout\": %s, ",
                cycle, in_idx, out_idx, seconds, out_idx < n_out ? "true" : "false");
    std::printf("\"first_in\": [");
    for (size_t i = 0; i < first_in.size(); ++i) std::printf(i ? ", %ld" : "%ld", first_in[i]);
    std::printf("], \"last_out\": [");
    for (size_t i = 0; i < last_out.size(); ++i) std::printf(i ? ", %ld" : "%ld", last_out[i]);
    std::printf("]");
#ifdef HWM_PORT
    std::vector<uint8_t> hwm(HWM_BYTES);
    get(top.HWM_PORT, hwm.data(), HWM_BYTES);
    std::printf(", \"hwm_hex\": \"");
    for (int i = HWM_BYTES - 1; i >= 0; --i) std::printf("%02x", hwm[i]);
    std::printf("\"");
#endif
    std::printf("}\n");
    return out_idx < n_out ? 1 : 0;
}

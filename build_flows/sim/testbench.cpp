// AXI-stream testbench for a Verilated top `qvit_sim_top` with FINN port names
// (ap_clk, ap_rst_n, in0_V_*, out0_V_*, and side inputs in1_V_*, in2_V_*, ...). Compiled by
// build_flows/sim/verilator.py, which generates qvit_ports.h (N_IN, IN_BYTES_OF[], with_input()).
//
// usage: sim OUT_FILE N_OUT_BEATS OUT_PER_IMAGE P_IN_STALL P_OUT_STALL SEED MAX_CYCLES IDLE_CYCLES
//            {IN_FILE N_BEATS PER_IMAGE}...
// IDLE_CYCLES (0: no limit) stops the run early when no beat has entered or left the design for that long (a deadlock).
// with one IN_FILE triple per input stream (in0_V first). IN_FILE k holds N_BEATS beats of IN_BYTES_OF[k]
// bytes (little-endian); OUT_FILE receives N_OUT_BEATS beats of OUT_BYTES bytes. Every source stalls
// (holds valid low) with probability P_IN_STALL per cycle, never withdrawing a beat it has offered; the
// sink holds ready low with probability P_OUT_STALL. Prints one JSON object with cycle counts on stdout.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "Vqvit_sim_top.h"
#include "verilated.h"

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

#include "qvit_ports.h"

static uint64_t rng_state;
static inline double uniform() {  // xorshift64*
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return static_cast<double>((rng_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

struct Source {  // one input stream
    std::vector<uint8_t> data;
    long n = 0, per = 0, idx = 0;
    int bytes = 0;
    bool offering = false;
};

int main(int argc, char** argv) {
    if (argc != 10 + 3 * N_IN) {
        std::fprintf(stderr, "usage: %s OUT N_OUT OUT_PER_IMG P_IN P_OUT SEED MAX_CYCLES IDLE_CYCLES IN_PERIOD "
                     "{IN N PER_IMG} x %d\n", argv[0], N_IN);
        return 2;
    }
    const long n_out = std::atol(argv[2]), out_per = std::atol(argv[3]);
    const double p_in = std::atof(argv[4]), p_out = std::atof(argv[5]);
    rng_state = std::strtoull(argv[6], nullptr, 10) * 0x9E3779B97F4A7C15ULL + 1;
    const long max_cycles = std::atol(argv[7]);
    const long idle_cycles = std::atol(argv[8]);
    const long in_period = std::atol(argv[9]);  // image k is offered from cycle k * in_period (0: at once)

    std::vector<Source> src(N_IN);
    for (int k = 0; k < N_IN; ++k) {
        Source& s = src[k];
        s.bytes = IN_BYTES_OF[k];
        s.n = std::atol(argv[11 + 3 * k]);
        s.per = std::atol(argv[12 + 3 * k]);
        s.data.resize(static_cast<size_t>(s.n) * s.bytes);
        FILE* f = std::fopen(argv[10 + 3 * k], "rb");
        if (!f || std::fread(s.data.data(), 1, s.data.size(), f) != s.data.size()) {
            std::fprintf(stderr, "cannot read %ld beats of input %d from %s\n", s.n, k, argv[10 + 3 * k]);
            return 2;
        }
        std::fclose(f);
    }
    std::vector<uint8_t> out(static_cast<size_t>(n_out) * OUT_BYTES);

    VerilatedContext ctx;
    Vqvit_sim_top top(&ctx);
    top.ap_clk = 0;
    top.ap_rst_n = 0;
    for (int k = 0; k < N_IN; ++k) with_input(top, k, [](auto&, auto& valid, auto&) { valid = 0; });
    top.out0_V_TREADY = 0;
    for (int i = 0; i < 8; ++i) {
        top.ap_clk = 0; top.eval();
        top.ap_clk = 1; top.eval();
    }
    top.ap_rst_n = 1;

    long out_idx = 0, cycle = 0, last_move = 0;
    bool idle = false;
    bool fire[N_IN];
    std::vector<long> first_in, last_out;  // per image: cycle its first beat entered / its last beat left
    auto t0 = std::chrono::steady_clock::now();
    while (out_idx < n_out && cycle < max_cycles) {
        for (int k = 0; k < N_IN; ++k) {
            Source& s = src[k];
            const bool due = in_period == 0 || cycle >= (s.idx / s.per) * in_period;
            if (!s.offering && s.idx < s.n && due && !(p_in > 0 && uniform() < p_in)) {
                const uint8_t* beat = &s.data[static_cast<size_t>(s.idx) * s.bytes];
                with_input(top, k, [&](auto& data, auto&, auto&) { put(data, beat, s.bytes); });
                s.offering = true;
            }
            with_input(top, k, [&](auto&, auto& valid, auto&) { valid = s.offering; });
        }
        top.out0_V_TREADY = !(p_out > 0 && uniform() < p_out);
        top.ap_clk = 0;
        top.eval();
        for (int k = 0; k < N_IN; ++k)
            with_input(top, k, [&](auto&, auto&, auto& ready) { fire[k] = src[k].offering && ready; });
        if (top.out0_V_TVALID && top.out0_V_TREADY) {
            get(top.out0_V_TDATA, &out[static_cast<size_t>(out_idx) * OUT_BYTES], OUT_BYTES);
            ++out_idx;
            last_move = cycle;
            if (out_idx % out_per == 0) last_out.push_back(cycle);
        }
        top.ap_clk = 1;
        top.eval();
        for (int k = 0; k < N_IN; ++k) {
            if (!fire[k]) continue;
            if (k == 0 && src[0].idx % src[0].per == 0) first_in.push_back(cycle);
            ++src[k].idx;
            last_move = cycle;
            src[k].offering = false;
        }
        ++cycle;
        if (idle_cycles > 0 && cycle - last_move > idle_cycles) { idle = true; break; }
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    top.final();

    FILE* f = std::fopen(argv[1], "wb");
    std::fwrite(out.data(), 1, static_cast<size_t>(out_idx) * OUT_BYTES, f);
    std::fclose(f);

    std::printf("{\"cycles\": %ld, \"in_beats\": %ld, \"out_beats\": %ld, \"seconds\": %.6f, \"timeout\": %s, ",
                cycle, src[0].idx, out_idx, seconds, out_idx < n_out ? "true" : "false");
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
#ifdef OCC_PORT
    std::vector<uint8_t> occ(HWM_BYTES);
    get(top.OCC_PORT, occ.data(), HWM_BYTES);
    std::printf(", \"occ_hex\": \"");
    for (int i = HWM_BYTES - 1; i >= 0; --i) std::printf("%02x", occ[i]);
    std::printf("\"");
#endif
#ifdef PUSHED_PORT
    std::vector<uint8_t> pushed(HWM_BYTES);
    get(top.PUSHED_PORT, pushed.data(), HWM_BYTES);
    std::printf(", \"pushed_hex\": \"");
    for (int i = HWM_BYTES - 1; i >= 0; --i) std::printf("%02x", pushed[i]);
    std::printf("\"");
#endif
    std::printf(", \"idle\": %s}\n", idle ? "true" : "false");
    return out_idx < n_out ? 1 : 0;
}

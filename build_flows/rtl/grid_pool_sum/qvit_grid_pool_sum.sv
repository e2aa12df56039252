// Window sums over the token grid (qvit-fpga's GridPoolSum layer): tokens [H*W, C] in row-major grid
// order, PE channels per beat; out[h,w,c] = sum of x[h+i-PH, w+j-PW, c] over a KH x KW window at stride 1
// with zero padding PH = KH/2, PW = KW/2 (odd kernels: the output grid is the input grid).
//
// A delay line of the input beats holds the window: tap (a, b) is the beat (a*W + b)*NF steps old
// (NF = CHANNELS/PE), the segments between taps are circular buffers (one write and one read port each:
// block or distributed RAM) or a register. Output beat q leaves with input beat q + D, D = (PH*W + PW)*NF
// (PH rows and PW tokens of latency); taps outside the grid (the padding, and beats of other images) are
// masked by the output's row and column. The last D outputs of an image need no further input: the line
// steps D more times on its own (the flush). So that the flush neither costs cycles nor waits for the
// next image (which could deadlock a fork/join), there are two lines used image by image (ping-pong): one
// flushes image k while the other takes the first D beats of image k+1 (which produce no output yet).
// One input beat per cycle in steady state: H*W*NF cycles per image. One adder per tap and lane, shared
// by the two lines. AXI-stream valid/ready with one output register.
module qvit_grid_pool_sum #(
	parameter int PE = 1,
	parameter int CHANNELS = 1,
	parameter int H = 1,
	parameter int W = 1,
	parameter int KH = 1,            // odd; KH == 1 or KW <= W (the generator checks)
	parameter int KW = 1,
	parameter int IBITS = 8,
	parameter int ISIGNED = 1,
	parameter int OBITS = 10,        // the generator checks that KH*KW inputs fit
	parameter int IN_W = 8,          // padded stream widths
	parameter int OUT_W = 16
)(
	input  logic ap_clk,
	input  logic ap_rst_n,
	output logic in0_V_TREADY,
	input  logic in0_V_TVALID,
	input  logic [IN_W-1:0] in0_V_TDATA,
	input  logic out0_V_TREADY,
	output logic out0_V_TVALID,
	output logic [OUT_W-1:0] out0_V_TDATA
);
	localparam int NF = CHANNELS / PE;
	localparam int PH = KH / 2;
	localparam int PW = KW / 2;
	localparam int T = KH * KW;                 // taps
	localparam int N = H * W * NF;              // beats per image
	localparam int D = (PH * W + PW) * NF;      // output latency in beats
	localparam int BW = PE * IBITS;
	localparam int SW = OBITS > IBITS + $clog2(T) + 1 ? OBITS : IBITS + $clog2(T) + 1;
	localparam int CW = $clog2(N + 1);
	localparam int FW = NF > 1 ? $clog2(NF) : 1;
	localparam int HW = H > 1 ? $clog2(H) : 1;
	localparam int WW = W > 1 ? $clog2(W) : 1;

	wire [BW-1:0] x = in0_V_TDATA[BW-1:0];

	logic e_in;             // the line taking input
	logic e_out;            // the line whose outputs are due (flushing when it is not e_in)
	logic [CW-1:0] in_cnt;  // input beats of the current image taken
	logic [FW-1:0] ocf;     // output position: channel group, column, row
	logic [WW-1:0] ow;
	logic [HW-1:0] oh;

	wire slot_free = !out0_V_TVALID || out0_V_TREADY;
	wire in_early = int'(in_cnt) < D;           // no output due with this input beat yet
	wire flushing = e_in != e_out;
	assign in0_V_TREADY = flushing ? in_early : (in_early || slot_free);
	wire in_step = in0_V_TVALID && in0_V_TREADY;
	wire flush_step = flushing && slot_free;
	wire produce = flush_step || (in_step && !flushing && !in_early);

	logic [BW-1:0] taps [2][T];
	for (genvar e = 0; e < 2; e++) begin : line
		wire step = (in_step && e_in == 1'(e)) || (flush_step && e_out == 1'(e));
		assign taps[e][0] = x;
		for (genvar t = 1; t < T; t++) begin : seg
			localparam int L = (t % KW != 0) ? NF : (W - KW + 1) * NF;
			if (L == 1) begin : reg1
				logic [BW-1:0] q;
				always_ff @(posedge ap_clk) if (step) q <= taps[e][t-1];
				assign taps[e][t] = q;
			end else begin : ram
				localparam int AW = $clog2(L);
				logic [BW-1:0] mem [L];
				logic [AW-1:0] ptr;
				logic [BW-1:0] q;
				wire [AW-1:0] nxt = int'(ptr) == L - 1 ? '0 : ptr + 1'b1;
				// write the newest beat at ptr and read the one at ptr+1 (written L-1 steps ago): after this
				// step it is L steps old
				always_ff @(posedge ap_clk) begin
					if (step) begin
						mem[ptr] <= taps[e][t-1];
						q <= mem[nxt];
					end
				end
				always_ff @(posedge ap_clk) begin
					if (!ap_rst_n) ptr <= '0;
					else if (step) ptr <= nxt;
				end
				assign taps[e][t] = q;
			end
		end
	end

	// tap (a, b) = index a*KW + b is window element (KH-1-a, KW-1-b): grid row oh+PH-a, column ow+PW-b
	logic [T-1:0] in_grid;
	always_comb begin
		for (int t = 0; t < T; t++) begin
			int r, c;
			r = int'(oh) + PH - t / KW;
			c = int'(ow) + PW - t % KW;
			in_grid[t] = r >= 0 && r < H && c >= 0 && c < W;
		end
	end

	logic [PE*OBITS-1:0] sums;
	for (genvar p = 0; p < PE; p++) begin : lane
		logic signed [SW-1:0] acc;
		always_comb begin
			acc = '0;
			for (int t = 0; t < T; t++) begin
				logic [IBITS-1:0] raw;
				raw = taps[e_out][t][p*IBITS +: IBITS];
				if (in_grid[t]) acc = acc + (ISIGNED != 0 ? SW'($signed(raw)) : SW'($unsigned(raw)));
			end
		end
		assign sums[p*OBITS +: OBITS] = acc[OBITS-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			e_in <= 1'b0;
			e_out <= 1'b0;
			in_cnt <= '0;
			ocf <= '0;
			ow <= '0;
			oh <= '0;
		end else begin
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (in_step) begin
				if (int'(in_cnt) == N - 1) begin
					in_cnt <= '0;
					e_in <= !e_in;
				end else begin
					in_cnt <= in_cnt + 1'b1;
				end
			end
			if (produce) begin
				out0_V_TVALID <= 1'b1;
				out0_V_TDATA <= OUT_W'(sums);
				if (int'(ocf) != NF - 1) begin
					ocf <= ocf + 1'b1;
				end else begin
					ocf <= '0;
					if (int'(ow) != W - 1) begin
						ow <= ow + 1'b1;
					end else begin
						ow <= '0;
						if (int'(oh) != H - 1) begin
							oh <= oh + 1'b1;
						end else begin
							oh <= '0;
							e_out <= !e_out;
						end
					end
				end
			end
		end
	end
endmodule

// The MLGRU recurrence over tokens (qvit-fpga's StreamMLGRU layer), PE lanes per beat. Per state channel,
// with h = 0 at the first token of each image:
//   h_t = floor((F_t * h_(t-1) + (2**K - F_t) * C_t + 2**(K-1)) / 2**K)
// F: gate codes (in0, unsigned, FBITS bits, < 2**K); C: candidate integers (in1, CBITS bits, CSIGNED);
// out: h, OBITS bits. The STATES channels of one token (all axes after the token axis) cycle along the
// stream, PE per beat; TOKENS tokens make an image.
// Two stages, one beat per cycle: stage A (registered) computes the state-free part
// P = (2**K - F) * C + 2**(K-1); stage B reads the lanes' states from distributed RAM (asynchronous read),
// adds F * h, shifts by K, and writes state and output register at the same edge. The next beat's read
// sees that write, so back-to-back beats of one channel group (PE == STATES) need no extra forwarding.
module qvit_stream_mlgru #(
	parameter int PE = 1,
	parameter int STATES = 1,        // state channels per token
	parameter int TOKENS = 1,        // tokens per image
	parameter int K = 4,             // f_bits
	parameter int FBITS = 4,
	parameter int CBITS = 8,
	parameter int CSIGNED = 1,
	parameter int OBITS = 8,
	parameter int IN0_W = 8,         // padded stream widths
	parameter int IN1_W = 8,
	parameter int OUT_W = 8
)(
	input  logic ap_clk,
	input  logic ap_rst_n,
	output logic in0_V_TREADY,
	input  logic in0_V_TVALID,
	input  logic [IN0_W-1:0] in0_V_TDATA,
	output logic in1_V_TREADY,
	input  logic in1_V_TVALID,
	input  logic [IN1_W-1:0] in1_V_TDATA,
	input  logic out0_V_TREADY,
	output logic out0_V_TVALID,
	output logic [OUT_W-1:0] out0_V_TDATA
);
	localparam int NF = STATES / PE;
	localparam int CW = NF > 1 ? $clog2(NF) : 1;
	localparam int TW = TOKENS > 1 ? $clog2(TOKENS) : 1;
	localparam int SW = CBITS + (CSIGNED != 0 ? 0 : 1);     // signed width that holds every C (and h)
	localparam int W0 = SW + K + 2;                          // |F*h| + |P| < 2**(SW+K) + 2**(K-1)
	localparam int W = W0 > OBITS ? W0 : OBITS;

	// stage A: the state-free part of the update
	logic a_valid;
	logic [PE*K-1:0] a_f;
	logic [PE*W-1:0] a_p;
	wire b_space = !out0_V_TVALID || out0_V_TREADY;
	wire b_take = a_valid && b_space;
	wire a_space = !a_valid || b_space;
	wire a_take = in0_V_TVALID && in1_V_TVALID && a_space;
	assign in0_V_TREADY = in1_V_TVALID && a_space;
	assign in1_V_TREADY = in0_V_TVALID && a_space;

	logic [PE*K-1:0] fs;
	logic [PE*W-1:0] ps;
	for (genvar p = 0; p < PE; p++) begin : lane_a
		wire [FBITS-1:0] rf = in0_V_TDATA[p*FBITS +: FBITS];
		wire [CBITS-1:0] rc = in1_V_TDATA[p*CBITS +: CBITS];
		wire signed [W-1:0] c = CSIGNED != 0 ? W'($signed(rc)) : W'($unsigned(rc));
		wire signed [W-1:0] g = W'(1 << K) - W'($unsigned(rf));  // 2**K - F, in 1 .. 2**K
		assign fs[p*K +: K] = K'(rf);
		assign ps[p*W +: W] = g * c + W'(1 << (K - 1));
	end

	// stage B: the recurrence on the states of the current channel group
	(* ram_style = "distributed" *) logic [PE*SW-1:0] state [NF];
	logic [CW-1:0] fold;  // which group of PE state channels stage B holds
	logic [TW-1:0] tok;   // which token of the image stage B holds
	wire first = tok == '0;

	logic [PE*SW-1:0] hs;
	logic [PE*OBITS-1:0] ys;
	for (genvar p = 0; p < PE; p++) begin : lane_b
		wire [SW-1:0] rh = state[fold][p*SW +: SW];
		wire signed [W-1:0] h = first ? '0 : W'($signed(rh));
		wire signed [W-1:0] f = W'($unsigned(a_f[p*K +: K]));
		wire signed [W-1:0] num = f * h + $signed(a_p[p*W +: W]);
		wire signed [W-1:0] hn = num >>> K;
		assign hs[p*SW +: SW] = hn[SW-1:0];
		assign ys[p*OBITS +: OBITS] = hn[OBITS-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if (ap_rst_n && b_take) state[fold] <= hs;
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			a_valid <= 1'b0;
			a_f <= '0;
			a_p <= '0;
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			fold <= '0;
			tok <= '0;
		end else begin
			if (a_take) begin
				a_valid <= 1'b1;
				a_f <= fs;
				a_p <= ps;
			end else if (b_take) begin
				a_valid <= 1'b0;
			end
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (b_take) begin
				out0_V_TVALID <= 1'b1;
				out0_V_TDATA <= OUT_W'(ys);
				if (int'(fold) == NF - 1) begin
					fold <= '0;
					tok <= (int'(tok) == TOKENS - 1) ? '0 : tok + 1'b1;
				end else begin
					fold <= fold + 1'b1;
				end
			end
		end
	end
endmodule

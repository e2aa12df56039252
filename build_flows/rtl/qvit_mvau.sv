// Matrix-vector-activation unit for binary, ternary and low-bit integer layers (qvit-fpga).
//
// Computes, for every input vector x (MW elements), y = W x (MH outputs) and optionally the
// multi-threshold activation of y, with FINN's MVAU folding and data layout:
//   * input stream: MW/SIMD beats per vector; beat sf carries x[sf*SIMD + i] in bits [i*IBITS +: IBITS];
//   * output stream: MH/PE beats per vector; beat nf carries channel nf*PE + p in bits [p*OBITS +: OBITS];
//   * weight ROM word nf*SF + sf holds W[nf*PE + p][sf*SIMD + i] in bits [(p*SIMD + i)*WBITS +: WBITS];
//   * threshold ROM word nf holds threshold t of channel nf*PE + p in bits [(p*NTHR + t)*ACCW +: ACCW].
// The input vector is read once and kept for the MH/PE neuron folds (cycles per vector: MH/PE * MW/SIMD).
//
// Arithmetic (MODE): 0 = XNOR-popcount (bipolar weights and inputs, 1 bit each; the accumulator counts
// agreements, as FINN's MVAU does), 1 = add/subtract (weights in {-1, 0, +1}; no multipliers),
// 2 = LUT multiply (low-bit integers). Element codes: IBIPOLAR/WBIPOLAR 1-bit codes mean 0 -> -1, 1 -> +1;
// otherwise two's complement when ISIGNED/WSIGNED, unsigned when not.
// Activation: NTHR = 0 emits the accumulator (its low OBITS bits); NTHR > 0 emits
// OBIAS + #{t : acc >= thr[t]} in OBITS bits (FINN's MultiThreshold with ActVal = OBIAS).
//
// Pipeline: issue (weight/threshold ROM read, input select) -> multiply-accumulate -> output register.
// The whole pipeline advances when the output register is empty or being read (AXI-stream valid/ready).
(* use_dsp = "no" *)
module qvit_mvau #(
	parameter int MW = 16,
	parameter int MH = 16,
	parameter int SIMD = 4,
	parameter int PE = 4,
	parameter int IBITS = 1,
	parameter int WBITS = 1,
	parameter int ISIGNED = 0,
	parameter int WSIGNED = 0,
	parameter int IBIPOLAR = 1,
	parameter int WBIPOLAR = 1,
	parameter int MODE = 0,
	parameter int ACCW = 8,        // signed accumulator/threshold width
	parameter int OBITS = 8,
	parameter int NTHR = 0,
	parameter int OBIAS = 0,
	parameter WEIGHT_FILE = "",
	parameter THRESH_FILE = "",
	parameter RAM_STYLE = "auto",
	parameter THRESH_RAM_STYLE = "distributed",
	localparam int SF = MW / SIMD,
	localparam int NF = MH / PE,
	localparam int WMEM = SF * NF,
	localparam int IN_W = (SIMD * IBITS + 7) / 8 * 8,
	localparam int OUT_W = (PE * OBITS + 7) / 8 * 8
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
	localparam int SF_W = SF > 1 ? $clog2(SF) : 1;
	localparam int NF_W = NF > 1 ? $clog2(NF) : 1;
	localparam int WA_W = WMEM > 1 ? $clog2(WMEM) : 1;
	localparam int THR_W = NTHR > 0 ? PE * NTHR * ACCW : 1;

	// ---------------------------------------------------------------- memories
	(* rom_style = RAM_STYLE, ram_style = RAM_STYLE *)
	logic [PE*SIMD*WBITS-1:0] wmem [WMEM];
	(* rom_style = THRESH_RAM_STYLE, ram_style = THRESH_RAM_STYLE *)
	logic [THR_W-1:0] tmem [NF];
	initial begin
		$readmemh(WEIGHT_FILE, wmem);
		if (NTHR > 0) $readmemh(THRESH_FILE, tmem);
	end
	logic [SIMD*IBITS-1:0] ibuf [SF];

	// ---------------------------------------------------------------- issue
	logic en;                      // pipeline advances this cycle
	logic [SF_W-1:0] sf;
	logic [NF_W-1:0] nf;
	logic [WA_W-1:0] waddr;
	logic a_fire;
	logic [SIMD*IBITS-1:0] a_x;

	logic c_valid;
	assign en = !c_valid || out0_V_TREADY;
	assign in0_V_TREADY = en && (nf == 0);
	assign a_fire = en && (nf != 0 || in0_V_TVALID);
	assign a_x = (nf == 0) ? in0_V_TDATA[SIMD*IBITS-1:0] : ibuf[sf];

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			sf <= '0; nf <= '0; waddr <= '0;
		end else if (a_fire) begin
			if (sf == SF_W'(SF - 1)) begin
				sf <= '0;
				nf <= (nf == NF_W'(NF - 1)) ? '0 : nf + 1'b1;
			end else sf <= sf + 1'b1;
			waddr <= (waddr == WA_W'(WMEM - 1)) ? '0 : waddr + 1'b1;
		end
	end
	always_ff @(posedge ap_clk) if (a_fire && nf == 0) ibuf[sf] <= a_x;

	// ---------------------------------------------------------------- stage B: multiply-accumulate
	logic b_valid, b_first, b_last;
	logic [SIMD*IBITS-1:0] b_x;
	logic [PE*SIMD*WBITS-1:0] b_w;
	logic [THR_W-1:0] b_thr;
	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) b_valid <= 1'b0;
		else if (en) b_valid <= a_fire;
	end
	always_ff @(posedge ap_clk) if (en) begin
		b_x <= a_x;
		b_first <= (sf == 0);
		b_last <= (sf == SF_W'(SF - 1));
		b_w <= wmem[waddr];
	end
	if (NTHR > 0) begin : g_thr_read
		always_ff @(posedge ap_clk) if (en) b_thr <= tmem[nf];
	end else begin : g_no_thr
		assign b_thr = '0;
	end

	function automatic logic signed [ACCW-1:0] elem(input logic [31:0] code, input int bits, input int sgn, input int bip);
		logic signed [ACCW-1:0] v;
		if (bip != 0) v = code[0] ? ACCW'(1) : -ACCW'(1);
		else if (sgn != 0) v = ACCW'($signed(code << (32 - bits)) >>> (32 - bits));
		else v = ACCW'(code & ((33'd1 << bits) - 1));
		return v;
	endfunction

	logic signed [ACCW-1:0] dot [PE];
	always_comb begin
		for (int p = 0; p < PE; p++) begin
			dot[p] = '0;
			for (int i = 0; i < SIMD; i++) begin
				logic [31:0] xc, wc;
				logic signed [ACCW-1:0] xv, wv;
				xc = 32'(b_x[i*IBITS +: IBITS]);
				wc = 32'(b_w[(p*SIMD + i)*WBITS +: WBITS]);
				xv = elem(xc, IBITS, ISIGNED, IBIPOLAR);
				wv = elem(wc, WBITS, WSIGNED, WBIPOLAR);
				if (MODE == 0) dot[p] = dot[p] + ((xc[0] == wc[0]) ? ACCW'(1) : ACCW'(0));
				else if (MODE == 1) dot[p] = dot[p] + (wv == 1 ? xv : wv == -1 ? -xv : '0);
				else begin
					logic signed [IBITS:0] xn;
					logic signed [WBITS:0] wn;
					if (IBIPOLAR != 0) xn = b_x[i*IBITS] ? (IBITS+1)'(1) : -(IBITS+1)'(1);
					else xn = ISIGNED != 0 ? $signed({b_x[i*IBITS + IBITS-1], b_x[i*IBITS +: IBITS]})
					                       : $signed({1'b0, b_x[i*IBITS +: IBITS]});
					wn = WSIGNED != 0 ? $signed({b_w[(p*SIMD + i)*WBITS + WBITS-1], b_w[(p*SIMD + i)*WBITS +: WBITS]})
					                  : $signed({1'b0, b_w[(p*SIMD + i)*WBITS +: WBITS]});
					dot[p] = dot[p] + ACCW'(xn * wn);
				end
			end
		end
	end

	logic signed [ACCW-1:0] acc [PE];
	logic signed [ACCW-1:0] acc_next [PE];
	always_comb for (int p = 0; p < PE; p++) acc_next[p] = (b_first ? '0 : acc[p]) + dot[p];
	always_ff @(posedge ap_clk) if (en && b_valid) for (int p = 0; p < PE; p++) acc[p] <= acc_next[p];

	// ---------------------------------------------------------------- stage C: output register
	logic signed [ACCW-1:0] c_acc [PE];
	logic [THR_W-1:0] c_thr;
	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) c_valid <= 1'b0;
		else if (en) c_valid <= b_valid && b_last;
	end
	always_ff @(posedge ap_clk) if (en && b_valid && b_last) begin
		for (int p = 0; p < PE; p++) c_acc[p] <= acc_next[p];
		c_thr <= b_thr;
	end

	always_comb begin
		out0_V_TDATA = '0;
		for (int p = 0; p < PE; p++) begin
			logic [OBITS-1:0] o;
			if (NTHR == 0) o = OBITS'(c_acc[p]);
			else begin
				o = OBITS'(OBIAS);
				for (int t = 0; t < NTHR; t++)
					if (c_acc[p] >= $signed(c_thr[(p*NTHR + t)*ACCW +: ACCW])) o = o + 1'b1;
			end
			out0_V_TDATA[p*OBITS +: OBITS] = o;
		end
	end
	assign out0_V_TVALID = c_valid;
endmodule

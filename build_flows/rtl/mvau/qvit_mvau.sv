// Matrix-vector-activation unit for binary, ternary and low-bit integer layers (qvit-fpga).
//
// Computes, for every input vector x (MW elements), y = W x (MH outputs) and optionally the
// multi-threshold activation of y, with FINN's MVAU folding and data layout:
//   * input stream: MW/SIMD beats per vector; beat sf carries x[sf*SIMD + i] in bits [i*IBITS +: IBITS];
//   * output stream: MH/PE beats per vector; beat nf carries channel nf*PE + p in bits [p*OBITS +: OBITS];
//   * weight ROM word nf*SF + sf holds W[nf*PE + p][sf*SIMD + i] in bits [(p*SIMD + i)*WBITS +: WBITS];
//     with WSTREAM = 1 the same words arrive on the weight stream in1_V instead (FINN's mem_mode
//     "external": all NF*SF words again for every input vector, one per cycle of the layer);
//   * threshold ROM word nf holds threshold t of channel nf*PE + p in bits [(p*NTHR + t)*ACCW +: ACCW].
// The input vector is read once and kept for the MH/PE neuron folds (cycles per vector: MH/PE * MW/SIMD): in a
// replay buffer when it takes several beats, in the multiply stage's input register when it takes one.
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
// Written in the SystemVerilog subset that Verilator, yosys and Vivado all accept (flat packed vectors,
// generate blocks, no functions with return).
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
	parameter RAM_STYLE = "auto",  // weight ROM: "block", "distributed" or "auto" (tool decides)
	parameter int WSTREAM = 0      // 1: weights from the in1_V stream, no ROM
)(
	input  logic ap_clk,
	input  logic ap_rst_n,

	output logic in0_V_TREADY,
	input  logic in0_V_TVALID,
	input  logic [(SIMD*IBITS+7)/8*8-1:0] in0_V_TDATA,

	output logic in1_V_TREADY,     // weight stream (WSTREAM = 1); tie TVALID low otherwise
	input  logic in1_V_TVALID,
	input  logic [(PE*SIMD*WBITS+7)/8*8-1:0] in1_V_TDATA,

	input  logic out0_V_TREADY,
	output logic out0_V_TVALID,
	output logic [(PE*OBITS+7)/8*8-1:0] out0_V_TDATA
);
	localparam int SF = MW / SIMD;
	localparam int NF = MH / PE;
	localparam int WMEM = SF * NF;
	localparam int SF_W = SF > 1 ? $clog2(SF) : 1;
	localparam int NF_W = NF > 1 ? $clog2(NF) : 1;
	localparam int WA_W = WMEM > 1 ? $clog2(WMEM) : 1;
	localparam int XW = IBITS + 2;                     // decoded input: signed, room for negation
	localparam int WW = WBITS + 1;                     // decoded weight: signed
	localparam int WWORD = PE * SIMD * WBITS;
	localparam int TWORD = NTHR > 0 ? PE * NTHR * ACCW : 1;
	localparam int OUT_W = (PE*OBITS+7)/8*8;
	localparam int POPCH = 16;                         // XNOR-popcount chunk width

	// ---------------------------------------------------------------- issue
	logic en;                      // pipeline advances this cycle
	logic c_valid;
	logic [SF_W-1:0] sf;
	logic [NF_W-1:0] nf;
	logic [WA_W-1:0] waddr;
	logic a_fire;
	logic [SIMD*IBITS-1:0] a_x;

	logic x_ok, w_ok;              // this cycle's input element and weight word are available
	assign en = !c_valid || out0_V_TREADY;
	assign x_ok = nf != 0 || in0_V_TVALID;
	assign w_ok = WSTREAM == 0 || in1_V_TVALID;
	assign in0_V_TREADY = en && (nf == 0) && w_ok;
	assign in1_V_TREADY = WSTREAM != 0 && en && x_ok;
	assign a_fire = en && x_ok && w_ok;

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
	// an input vector of several beats is kept in a replay buffer for the later neuron folds; one of a single
	// beat stays in stage B's input register (its clock enable), with no buffer and no multiplexer
	if (SF > 1) begin : g_ibuf
		logic [SIMD*IBITS-1:0] ibuf [0:SF-1];
		assign a_x = (nf == 0) ? in0_V_TDATA[SIMD*IBITS-1:0] : ibuf[sf];
		always_ff @(posedge ap_clk) if (a_fire && nf == 0) ibuf[sf] <= a_x;
	end else begin : g_one_beat
		assign a_x = in0_V_TDATA[SIMD*IBITS-1:0];
	end

	// ---------------------------------------------------------------- stage B: multiply-accumulate
	logic b_valid, b_first, b_last;
	logic [SIMD*IBITS-1:0] b_x;
	logic [WWORD-1:0] b_w;
	logic [TWORD-1:0] b_thr;
	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) b_valid <= 1'b0;
		else if (en) b_valid <= a_fire;
	end
	always_ff @(posedge ap_clk) if (en) begin
		if (SF > 1 || nf == 0) b_x <= a_x;
		b_first <= (sf == 0);
		b_last <= (sf == SF_W'(SF - 1));
	end

	// weight ROM, read synchronously (a block RAM with its output register), or the weight stream
	if (WSTREAM != 0) begin : g_wstream
		always_ff @(posedge ap_clk) if (en) b_w <= in1_V_TDATA[WWORD-1:0];
	end else if (RAM_STYLE == "block") begin : g_wrom_block
		(* rom_style = "block", ram_style = "block" *) logic [WWORD-1:0] wmem [0:WMEM-1];
		initial $readmemh(WEIGHT_FILE, wmem);
		always_ff @(posedge ap_clk) if (en) b_w <= wmem[waddr];
	end else if (RAM_STYLE == "distributed") begin : g_wrom_dist
`ifdef YOSYS  // yosys names LUT ROMs "logic"
		(* rom_style = "logic" *) logic [WWORD-1:0] wmem [0:WMEM-1];
`else
		(* rom_style = "distributed" *) logic [WWORD-1:0] wmem [0:WMEM-1];
`endif
		initial $readmemh(WEIGHT_FILE, wmem);
		wire [WWORD-1:0] wrd = wmem[waddr];  // LUT ROM: asynchronous read, then the pipeline register
		always_ff @(posedge ap_clk) if (en) b_w <= wrd;
	end else begin : g_wrom_auto
		logic [WWORD-1:0] wmem [0:WMEM-1];
		initial $readmemh(WEIGHT_FILE, wmem);
		always_ff @(posedge ap_clk) if (en) b_w <= wmem[waddr];
	end

	if (NTHR > 0) begin : g_trom
`ifdef YOSYS  // yosys names LUT ROMs "logic"
		(* rom_style = "logic" *) logic [TWORD-1:0] tmem [0:NF-1];
`else
		(* rom_style = "distributed" *) logic [TWORD-1:0] tmem [0:NF-1];
`endif
		initial $readmemh(THRESH_FILE, tmem);
		wire [TWORD-1:0] trd = tmem[nf];
		always_ff @(posedge ap_clk) if (en) b_thr <= trd;
	end else begin : g_no_trom
		assign b_thr = '0;
	end

	// product terms: term (p, i) in bits [(p*SIMD + i)*ACCW +: ACCW] (add/subtract and multiply modes;
	// XNOR-popcount counts agreements per PE directly)
	logic [PE*SIMD*ACCW-1:0] terms;
	if (MODE != 0) begin : g_terms
		for (genvar p = 0; p < PE; p++) begin : g_pe_terms
			for (genvar i = 0; i < SIMD; i++) begin : g_simd
				wire [IBITS-1:0] xc = b_x[i*IBITS +: IBITS];
				wire [WBITS-1:0] wc = b_w[(p*SIMD + i)*WBITS +: WBITS];
				wire signed [XW-1:0] xv;
				wire signed [WW-1:0] wv;
				wire signed [ACCW-1:0] t;
				if (IBIPOLAR != 0) begin : g_xb
					assign xv = xc[0] ? XW'(1) : {XW{1'b1}};
				end else if (ISIGNED != 0) begin : g_xs
					assign xv = {{(XW-IBITS){xc[IBITS-1]}}, xc};
				end else begin : g_xu
					assign xv = {{(XW-IBITS){1'b0}}, xc};
				end
				if (WBIPOLAR != 0) begin : g_wb
					assign wv = wc[0] ? WW'(1) : {WW{1'b1}};
				end else if (WSIGNED != 0) begin : g_ws
					assign wv = {{(WW-WBITS){wc[WBITS-1]}}, wc};
				end else begin : g_wu
					assign wv = {{(WW-WBITS){1'b0}}, wc};
				end
				if (MODE == 1) begin : g_addsub       // w in {-1, 0, +1}: select x, -x or 0
					wire signed [ACCW-1:0] xe = ACCW'(xv);
					assign t = (wv == WW'(1)) ? xe : (wv == {WW{1'b1}}) ? -xe : ACCW'(0);
				end else begin : g_mul                // small LUT multiplier
					wire signed [XW+WW-1:0] prod = xv * wv;
					assign t = ACCW'(prod);
				end
				assign terms[(p*SIMD + i)*ACCW +: ACCW] = t;
			end
		end
	end else begin : g_no_terms
		assign terms = '0;
	end

	logic [PE*ACCW-1:0] acc, acc_next;
	for (genvar p = 0; p < PE; p++) begin : g_pe_acc
		logic signed [ACCW-1:0] dsum;
		if (MODE == 0) begin : g_popcount
			// agreements of the bipolar codes, counted in POPCH-bit chunks: fast in Verilator, and one
			// $countones over hundreds of bits exhausts yosys' recursion
			localparam int NCH = (SIMD + POPCH - 1) / POPCH;
			wire [SIMD-1:0] agree = ~(b_x[SIMD-1:0] ^ b_w[p*SIMD +: SIMD]);
			wire [NCH*POPCH-1:0] agree_pad = (NCH*POPCH)'(agree);  // zero-extended after the XNOR
			always_comb begin
				dsum = '0;
				for (int c = 0; c < NCH; c++) dsum = dsum + ACCW'($countones(agree_pad[c*POPCH +: POPCH]));
			end
		end else begin : g_sum
			always_comb begin
				dsum = '0;
				for (int i = 0; i < SIMD; i++) dsum = dsum + $signed(terms[(p*SIMD + i)*ACCW +: ACCW]);
			end
		end
		assign acc_next[p*ACCW +: ACCW] = (b_first ? ACCW'(0) : acc[p*ACCW +: ACCW]) + dsum;
	end
	always_ff @(posedge ap_clk) if (en && b_valid) acc <= acc_next;

	// ---------------------------------------------------------------- stage C: output register
	logic [PE*ACCW-1:0] c_acc;
	logic [TWORD-1:0] c_thr;
	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) c_valid <= 1'b0;
		else if (en) c_valid <= b_valid && b_last;
	end
	always_ff @(posedge ap_clk) if (en && b_valid && b_last) begin
		c_acc <= acc_next;
		c_thr <= b_thr;
	end

	logic [PE*OBITS-1:0] outs;
	for (genvar p = 0; p < PE; p++) begin : g_pe_out
		wire signed [ACCW-1:0] a = c_acc[p*ACCW +: ACCW];
		if (NTHR == 0) begin : g_acc_out
			assign outs[p*OBITS +: OBITS] = OBITS'(a);
		end else begin : g_thr_out
			logic [OBITS-1:0] o;
			always_comb begin
				o = OBITS'(OBIAS);
				for (int t = 0; t < NTHR; t++)
					if (a >= $signed(c_thr[(p*NTHR + t)*ACCW +: ACCW])) o = o + 1'b1;
			end
			assign outs[p*OBITS +: OBITS] = o;
		end
	end
	assign out0_V_TDATA = OUT_W'(outs);
	assign out0_V_TVALID = c_valid;
endmodule

// Integer softmax over rows of N scores (qvit-fpga's StreamSoftmax layer), PE lanes per beat:
//   m = max of the row (without the diagonal when MASK), d = m - z, e = EXP[min(d, DEPTH-1)] (0 where
//   masked), T = sum of e over the row, code = #{q in 1..L-1 : e >= c_q}, c_q = ceil((2q-1) T / 2L),
// which equals min(floor((2eL + T) / 2T), L-1) without a divider (proof in codegen.py). EXP holds
// floor(exp(-d*scale) * 2**16 + 0.5) and ends at its first 0, so a saturated index gives 0.
// Three passes over a row in a ring of SLOTS row buffers: A stores the row and finds its maximum, B looks
// up e and sums it, C looks up e again and emits the codes. They work on different rows at once, so in
// steady state a row takes N/PE cycles; SLOTS covers the three passes plus the B->C pipeline gap.
// AXI-stream valid/ready; only pass C waits for the output (one output register).
module qvit_stream_softmax #(
	parameter int PE = 1,
	parameter int N = 16,            // row length
	parameter int IBITS = 8,
	parameter int ISIGNED = 1,
	parameter int OBITS = 4,         // code bits; L = 2**OBITS
	parameter int MASK = 0,          // 1: leave out the diagonal (square matrices of N rows)
	parameter int DEPTH = 256,       // exp() table entries
	parameter int EW = 17,           // bits of a table value
	parameter int EMAX = 65536,      // largest table value (EXP[0])
	parameter int TW = 21,           // bits of a row total
	parameter int SLOTS = 4,         // row buffers
	parameter EXP_FILE = "",         // DEPTH lines of hex
	parameter int IN_W = 8,          // padded stream widths
	parameter int OUT_W = 8
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
	localparam int NF = N / PE;                      // beats per row
	localparam int BW = NF > 1 ? $clog2(NF) : 1;
	localparam int SW = $clog2(SLOTS);
	localparam int KW = SW + 1;                      // row counts 0..SLOTS
	localparam int AW = $clog2(SLOTS * NF);
	localparam int TL = PE > 1 ? $clog2(PE) : 0;     // levels of the lane trees
	localparam int P2 = 1 << TL;
	localparam int LW = TL > 0 ? TL : 1;
	localparam int ZW = IBITS + 1;                   // signed scores and differences
	localparam int DW = $clog2(DEPTH);
	localparam int L = 1 << OBITS;
	localparam int CW = $clog2(EMAX + 2);            // thresholds saturate at EMAX + 1
	localparam int XW = CW > EW ? CW : EW;
	localparam int PW = TW + OBITS + 1;              // (2q-1) T + 2L - 1
	localparam int RW = PE * IBITS;
	localparam logic signed [ZW-1:0] ZMIN = ISIGNED != 0 ? ZW'(-(1 << (IBITS - 1))) : '0;

	function automatic logic [SW-1:0] next_slot(input logic [SW-1:0] s);
		next_slot = s == SW'(SLOTS - 1) ? '0 : s + 1'b1;
	endfunction

	function automatic logic [AW-1:0] addr(input logic [SW-1:0] s, input logic [BW-1:0] b);
		addr = AW'(s) * AW'(NF) + AW'(b);
	endfunction

	function automatic logic signed [ZW-1:0] score(input logic [RW-1:0] w, input integer p);
		logic [IBITS-1:0] r;
		r = w[p*IBITS +: IBITS];
		score = $signed({ISIGNED != 0 && r[IBITS-1], r});
	endfunction

	// table index of d = m - z: negative d (only on a masked diagonal) reads 0, large d the last entry
	function automatic logic [DW-1:0] exp_index(input logic signed [ZW-1:0] m, input logic signed [ZW-1:0] z);
		logic signed [ZW-1:0] d;
		d = m - z;
		if (d < 0) exp_index = '0;
		else if (d > ZW'(DEPTH - 1)) exp_index = DW'(DEPTH - 1);
		else exp_index = d[DW-1:0];
	endfunction

	logic [RW-1:0] rowbuf [SLOTS * NF];
	logic signed [ZW-1:0] slot_max [SLOTS];
	logic [TW-1:0] slot_total [SLOTS];
	logic [BW-1:0] slot_dbeat [SLOTS];  // where the row's diagonal element sits (MASK)
	logic [LW-1:0] slot_dlane [SLOTS];

	logic [KW-1:0] held;     // rows written by A and not yet read out by C
	logic [KW-1:0] b_avail;  // rows written by A and not yet read by B
	logic [KW-1:0] c_avail;  // rows summed by B and not yet read by C

	// ---- pass A: store the row, running maximum ----------------------------------------------------
	logic [SW-1:0] a_slot;
	logic [BW-1:0] a_beat;
	logic signed [ZW-1:0] a_max;
	logic [BW-1:0] dg_beat;  // the current row's diagonal position (row index within the matrix)
	logic [LW-1:0] dg_lane;

	assign in0_V_TREADY = held < KW'(SLOTS);
	wire a_take = in0_V_TVALID && in0_V_TREADY;
	wire a_last = a_beat == BW'(NF - 1);
	wire a_done = a_take && a_last;

	for (genvar l = 0; l <= TL; l++) begin : amax  // max tree over the lanes, level l has P2 >> l nodes
		logic signed [ZW-1:0] v [P2 >> l];
		for (genvar i = 0; i < (P2 >> l); i++) begin : node
			if (l > 0) begin : inner
				assign v[i] = amax[l-1].v[2*i] > amax[l-1].v[2*i + 1] ? amax[l-1].v[2*i] : amax[l-1].v[2*i + 1];
			end else if (i < PE) begin : lane
				wire masked = MASK != 0 && a_beat == dg_beat && LW'(i) == dg_lane;
				assign v[i] = masked ? ZMIN : score(in0_V_TDATA[RW-1:0], i);
			end else begin : pad
				assign v[i] = ZMIN;
			end
		end
	end
	wire signed [ZW-1:0] beat_max = amax[TL].v[0];
	wire signed [ZW-1:0] row_max = (a_beat == '0 || beat_max > a_max) ? beat_max : a_max;

	always_ff @(posedge ap_clk) begin
		if (a_take) rowbuf[addr(a_slot, a_beat)] <= in0_V_TDATA[RW-1:0];
		if (a_done) begin
			slot_max[a_slot] <= row_max;
			slot_dbeat[a_slot] <= dg_beat;
			slot_dlane[a_slot] <= dg_lane;
		end
		if (a_take) a_max <= row_max;
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			a_slot <= '0;
			a_beat <= '0;
			dg_beat <= '0;
			dg_lane <= '0;
		end else if (a_take) begin
			a_beat <= a_last ? '0 : a_beat + 1'b1;
			if (a_last) begin
				a_slot <= next_slot(a_slot);
				if (dg_lane == LW'(PE - 1)) begin
					dg_lane <= '0;
					dg_beat <= dg_beat == BW'(NF - 1) ? '0 : dg_beat + 1'b1;
				end else begin
					dg_lane <= dg_lane + 1'b1;
				end
			end
		end
	end

	// ---- pass B: e and the row total ----------------------------------------------------------------
	logic [SW-1:0] b_slot;
	logic [BW-1:0] b_beat;
	wire b_issue = b_beat != '0 || b_avail != '0;
	wire b_last = b_beat == BW'(NF - 1);

	logic b1_v, b1_first, b1_last, b1_dm;
	logic [SW-1:0] b1_slot;
	logic [RW-1:0] b1_z;
	logic signed [ZW-1:0] b1_m;
	logic [LW-1:0] b1_dl;
	always_ff @(posedge ap_clk) begin
		if (b_issue) begin
			b1_z <= rowbuf[addr(b_slot, b_beat)];
			b1_m <= slot_max[b_slot];
			b1_slot <= b_slot;
			b1_first <= b_beat == '0;
			b1_last <= b_last;
			b1_dm <= b_beat == slot_dbeat[b_slot];
			b1_dl <= slot_dlane[b_slot];
		end
	end

	logic b2_v, b2_first, b2_last;
	logic [SW-1:0] b2_slot;
	logic [EW-1:0] b2_e [PE];
	for (genvar p = 0; p < PE; p++) begin : b_lane
		logic [EW-1:0] exp_rom [DEPTH];  // one table per lookup (LUT ROM, or half a dual-port block RAM)
		initial $readmemh(EXP_FILE, exp_rom);
		wire masked = MASK != 0 && b1_dm && b1_dl == LW'(p);
		wire [DW-1:0] idx = exp_index(b1_m, score(b1_z, p));
		always_ff @(posedge ap_clk) if (b1_v) b2_e[p] <= masked ? '0 : exp_rom[idx];
	end
	always_ff @(posedge ap_clk) begin
		if (b1_v) begin
			b2_slot <= b1_slot;
			b2_first <= b1_first;
			b2_last <= b1_last;
		end
	end

	for (genvar l = 0; l <= TL; l++) begin : bsum  // sum tree over the lanes
		logic [TW-1:0] v [P2 >> l];
		for (genvar i = 0; i < (P2 >> l); i++) begin : node
			if (l > 0) begin : inner
				assign v[i] = bsum[l-1].v[2*i] + bsum[l-1].v[2*i + 1];
			end else if (i < PE) begin : lane
				assign v[i] = TW'(b2_e[i]);
			end else begin : pad
				assign v[i] = '0;
			end
		end
	end
	logic [TW-1:0] acc;
	wire [TW-1:0] running = (b2_first ? '0 : acc) + bsum[TL].v[0];
	wire b_done = b2_v && b2_last;
	always_ff @(posedge ap_clk) begin
		if (b2_v) acc <= running;
		if (b_done) slot_total[b2_slot] <= running;
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			b_slot <= '0;
			b_beat <= '0;
			b1_v <= 1'b0;
			b2_v <= 1'b0;
		end else begin
			b1_v <= b_issue;
			b2_v <= b1_v;
			if (b_issue) begin
				b_beat <= b_last ? '0 : b_beat + 1'b1;
				if (b_last) b_slot <= next_slot(b_slot);
			end
		end
	end

	// ---- pass C: e again, thresholds, codes ------------------------------------------------------------
	logic [SW-1:0] c_slot;
	logic [BW-1:0] c_beat;
	wire en = !out0_V_TVALID || out0_V_TREADY;  // the C pipeline moves
	wire c_issue = c_beat != '0 || c_avail != '0;
	wire c_last = c_beat == BW'(NF - 1);
	wire c_go = c_issue && en;
	wire c_free = c_go && c_last;  // the row's last beat is read: its buffer is free

	logic c1_v, c1_dm;
	logic [RW-1:0] c1_z;
	logic signed [ZW-1:0] c1_m;
	logic [TW-1:0] c1_t;
	logic [LW-1:0] c1_dl;
	always_ff @(posedge ap_clk) begin
		if (c_go) begin
			c1_z <= rowbuf[addr(c_slot, c_beat)];
			c1_m <= slot_max[c_slot];
			c1_t <= slot_total[c_slot];
			c1_dm <= c_beat == slot_dbeat[c_slot];
			c1_dl <= slot_dlane[c_slot];
		end
	end

	logic c2_v;
	logic [EW-1:0] c2_e [PE];
	logic [CW-1:0] c2_thr [L-1];
	for (genvar p = 0; p < PE; p++) begin : c_lane
		logic [EW-1:0] exp_rom [DEPTH];  // one table per lookup (LUT ROM, or half a dual-port block RAM)
		initial $readmemh(EXP_FILE, exp_rom);
		wire masked = MASK != 0 && c1_dm && c1_dl == LW'(p);
		wire [DW-1:0] idx = exp_index(c1_m, score(c1_z, p));
		always_ff @(posedge ap_clk) if (en && c1_v) c2_e[p] <= masked ? '0 : exp_rom[idx];
	end
	// c_q = ceil((2q-1) T / 2L) = (T + 2L-1 + 2 (q-1) T) >> (OBITS+1); the multiples m T, m = 0..L-2, by
	// doubling (even m) or adding T (odd m): one adder per odd m, at most log2(L) adders deep, no DSP
	for (genvar m = 0; m < L - 1; m++) begin : mult
		wire [PW-1:0] v;
		if (m == 0) begin : zero
			assign v = '0;
		end else if (m == 1) begin : one
			assign v = PW'(c1_t);
		end else if (m % 2 == 0) begin : even
			assign v = mult[m / 2].v << 1;
		end else begin : odd
			assign v = mult[m - 1].v + PW'(c1_t);
		end
	end
	wire [PW-1:0] c_base = PW'(c1_t) + PW'((1 << (OBITS + 1)) - 1);
	for (genvar q = 1; q < L; q++) begin : thr
		wire [PW-1:0] up = c_base + (mult[q - 1].v << 1);
		wire [PW-1:0] cq = up >> (OBITS + 1);
		always_ff @(posedge ap_clk)
			if (en && c1_v) c2_thr[q-1] <= cq > PW'(EMAX) ? CW'(EMAX + 1) : cq[CW-1:0];
	end

	logic [PE*OBITS-1:0] codes;
	for (genvar p = 0; p < PE; p++) begin : code
		always_comb begin
			codes[p*OBITS +: OBITS] = '0;
			for (int q = 0; q < L - 1; q++)
				codes[p*OBITS +: OBITS] = codes[p*OBITS +: OBITS] + OBITS'(XW'(c2_e[p]) >= XW'(c2_thr[q]));
		end
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			c_slot <= '0;
			c_beat <= '0;
			c1_v <= 1'b0;
			c2_v <= 1'b0;
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
		end else begin
			if (c_go) begin
				c_beat <= c_last ? '0 : c_beat + 1'b1;
				if (c_last) c_slot <= next_slot(c_slot);
			end
			if (en) begin
				c1_v <= c_issue;
				c2_v <= c1_v;
				out0_V_TVALID <= c2_v;
				if (c2_v) out0_V_TDATA <= OUT_W'(codes);
			end
		end
	end

	// ---- row counts between the passes -----------------------------------------------------------------
	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			held <= '0;
			b_avail <= '0;
			c_avail <= '0;
		end else begin
			held <= held + KW'(a_done) - KW'(c_free);
			b_avail <= b_avail + KW'(a_done) - KW'(b_issue && b_last);
			c_avail <= c_avail + KW'(b_done) - KW'(c_free);
		end
	end
endmodule

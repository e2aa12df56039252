// Integer softmax over rows of N scores (qvit-fpga's StreamSoftmax layer), PE lanes per beat:
//   m = max of the row (without the diagonal when MASK), d = m - z, e = EXP[min(d, DEPTH-1)] (0 where
//   masked), T = sum of e over the row, code = #{q in 1..L-1 : e >= c_q}, c_q = ceil((2q-1) T / 2L),
// which equals min(floor((2eL + T) / 2T), L-1) without a divider (proof in codegen.py). EXP holds
// floor(exp(-d*scale) * 2**16 + 0.5) and ends at its first 0, so a saturated index gives 0.
// Passes that overlap across rows, so in steady state a row takes N/PE cycles:
//   A stores the scores in a ring of ZSLOTS row buffers and finds the maximum;
//   B looks e up once, sums it and stores it in a ring of ESLOTS row buffers;
//   a threshold unit computes the row's L-1 thresholds, TU per cycle (one adder each), ceil((L-1)/TU) <= N/PE
//   cycles, once per row instead of once per beat;
//   C reads e back and finds each code by binary search over the thresholds (OBITS comparisons, split over
//   two pipeline stages) instead of comparing with all L-1.
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
	parameter int ZSLOTS = 2,        // score row buffers (A -> B)
	parameter int ESLOTS = 4,        // e row buffers (B -> C)
	parameter int TU = 1,            // thresholds the threshold unit computes per cycle
	parameter Z_RAM_STYLE = "distributed",  // the row buffers' memory: "distributed" or "block"
	parameter E_RAM_STYLE = "distributed",
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
	localparam int ZSW = $clog2(ZSLOTS);
	localparam int ESW = $clog2(ESLOTS);
	localparam int ZAW = $clog2(ZSLOTS * NF);
	localparam int EAW = $clog2(ESLOTS * NF);
	localparam int KW = $clog2((ZSLOTS > ESLOTS ? ZSLOTS : ESLOTS) + 1);  // row counts
	localparam int TL = PE > 1 ? $clog2(PE) : 0;     // levels of the lane trees
	localparam int P2 = 1 << TL;
	localparam int LW = TL > 0 ? TL : 1;
	localparam int ZW = IBITS + 1;                   // signed scores and differences
	localparam int DW = $clog2(DEPTH);
	localparam int L = 1 << OBITS;
	localparam int S = OBITS + 1;                    // c_q = X_q >> S, X_q = (2q-1) T + 2L - 1
	localparam int CW = $clog2(EMAX + 2);            // thresholds saturate at EMAX + 1
	localparam int XW = CW > EW ? CW : EW;
	localparam int PW = TW + S;                      // bits of X_q
	localparam int UK = (L - 1 + TU - 1) / TU;       // threshold unit cycles per row
	localparam int UW = UK > 1 ? $clog2(UK) : 1;
	localparam int H = (OBITS + 1) / 2;              // code bits decided in C's first compare stage
	localparam int RW = PE * IBITS;
	localparam int EB = PE * EW;
	localparam logic signed [ZW-1:0] ZMIN = ISIGNED != 0 ? ZW'(-(1 << (IBITS - 1))) : '0;

	function automatic logic [ZSW-1:0] znext(input logic [ZSW-1:0] s);
		znext = s == ZSW'(ZSLOTS - 1) ? '0 : s + 1'b1;
	endfunction

	function automatic logic [ESW-1:0] enext(input logic [ESW-1:0] s);
		enext = s == ESW'(ESLOTS - 1) ? '0 : s + 1'b1;
	endfunction

	function automatic logic [ZAW-1:0] zaddr(input logic [ZSW-1:0] s, input logic [BW-1:0] b);
		zaddr = ZAW'(s) * ZAW'(NF) + ZAW'(b);
	endfunction

	function automatic logic [EAW-1:0] eaddr(input logic [ESW-1:0] s, input logic [BW-1:0] b);
		eaddr = EAW'(s) * EAW'(NF) + EAW'(b);
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

	(* ram_style = Z_RAM_STYLE *) logic [RW-1:0] zbuf [ZSLOTS * NF];
	(* ram_style = E_RAM_STYLE *) logic [EB-1:0] ebuf [ESLOTS * NF];
	logic signed [ZW-1:0] slot_max [ZSLOTS];
	logic [BW-1:0] slot_dbeat [ZSLOTS];  // where the row's diagonal element sits (MASK)
	logic [LW-1:0] slot_dlane [ZSLOTS];
	logic [TW-1:0] slot_total [ESLOTS];

	logic [KW-1:0] z_held;   // rows written by A and not yet read out by B
	logic [KW-1:0] e_held;   // rows begun by B and not yet read out by C
	logic [KW-1:0] u_avail;  // rows summed by B whose thresholds the unit has not begun

	// ---- pass A: store the row, running maximum ----------------------------------------------------
	logic [ZSW-1:0] a_slot;
	logic [BW-1:0] a_beat;
	logic signed [ZW-1:0] a_max;
	logic [BW-1:0] dg_beat;  // the current row's diagonal position (row index within the matrix)
	logic [LW-1:0] dg_lane;

	assign in0_V_TREADY = z_held < KW'(ZSLOTS);
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
		if (a_take) zbuf[zaddr(a_slot, a_beat)] <= in0_V_TDATA[RW-1:0];
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
				a_slot <= znext(a_slot);
				if (dg_lane == LW'(PE - 1)) begin
					dg_lane <= '0;
					dg_beat <= dg_beat == BW'(NF - 1) ? '0 : dg_beat + 1'b1;
				end else begin
					dg_lane <= dg_lane + 1'b1;
				end
			end
		end
	end

	// ---- pass B: e (stored for pass C) and the row total ----------------------------------------------
	logic [ZSW-1:0] b_zslot;
	logic [ESW-1:0] b_eslot;
	logic [BW-1:0] b_beat;
	wire b_issue = b_beat != '0 || (z_held != '0 && e_held < KW'(ESLOTS));
	wire b_first = b_beat == '0;
	wire b_last = b_beat == BW'(NF - 1);

	logic b1_v, b1_first, b1_last, b1_dm;
	logic [ESW-1:0] b1_eslot;
	logic [EAW-1:0] b1_waddr;
	logic [RW-1:0] b1_z;
	logic signed [ZW-1:0] b1_m;
	logic [LW-1:0] b1_dl;
	always_ff @(posedge ap_clk) begin
		if (b_issue) begin
			b1_z <= zbuf[zaddr(b_zslot, b_beat)];
			b1_m <= slot_max[b_zslot];
			b1_eslot <= b_eslot;
			b1_waddr <= eaddr(b_eslot, b_beat);
			b1_first <= b_first;
			b1_last <= b_last;
			b1_dm <= b_beat == slot_dbeat[b_zslot];
			b1_dl <= slot_dlane[b_zslot];
		end
	end

	logic b2_v, b2_first, b2_last;
	logic [ESW-1:0] b2_eslot;
	logic [EAW-1:0] b2_waddr;
	logic [EB-1:0] b2_e;
	for (genvar p = 0; p < PE; p++) begin : b_lane
		logic [EW-1:0] exp_rom [DEPTH];  // the lane's table (LUT ROM, or a block RAM)
		initial $readmemh(EXP_FILE, exp_rom);
		wire masked = MASK != 0 && b1_dm && b1_dl == LW'(p);
		wire [DW-1:0] idx = exp_index(b1_m, score(b1_z, p));
		always_ff @(posedge ap_clk) if (b1_v) b2_e[p*EW +: EW] <= masked ? '0 : exp_rom[idx];
	end
	always_ff @(posedge ap_clk) begin
		if (b1_v) begin
			b2_eslot <= b1_eslot;
			b2_waddr <= b1_waddr;
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
				assign v[i] = TW'(b2_e[i*EW +: EW]);
			end else begin : pad
				assign v[i] = '0;
			end
		end
	end
	logic [TW-1:0] acc;
	wire [TW-1:0] running = (b2_first ? '0 : acc) + bsum[TL].v[0];
	wire b_done = b2_v && b2_last;
	always_ff @(posedge ap_clk) begin
		if (b2_v) begin
			acc <= running;
			ebuf[b2_waddr] <= b2_e;
		end
		if (b_done) slot_total[b2_eslot] <= running;
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			b_zslot <= '0;
			b_eslot <= '0;
			b_beat <= '0;
			b1_v <= 1'b0;
			b2_v <= 1'b0;
		end else begin
			b1_v <= b_issue;
			b2_v <= b1_v;
			if (b_issue) begin
				b_beat <= b_last ? '0 : b_beat + 1'b1;
				if (b_last) begin
					b_zslot <= znext(b_zslot);
					b_eslot <= enext(b_eslot);
				end
			end
		end
	end

	// ---- threshold unit: c_q for q = 1..L-1, TU per cycle, into nxt ------------------------------------
	// X_1 = T + 2L - 1, X_(q+k) = X_q + 2kT: the multiples 2kT (k = 1..TU) by doubling (even k) or adding
	// 2T (odd k), then one adder per threshold of the cycle and one for the next cycle's X
	logic [ESW-1:0] u_slot;
	logic u_busy;
	logic [UW-1:0] u_cnt;
	logic [PW-1:0] u_t2, u_x;   // 2T and the cycle's X
	logic [CW-1:0] nxt [L-1];   // the next row's thresholds, until pass C takes them
	logic thr_ready;            // nxt holds a row's thresholds
	wire c_take;                // pass C begins a row (copies nxt)
	wire u_last = u_cnt == UW'(UK - 1);
	wire u_step = u_busy && (u_cnt != '0 || !thr_ready || c_take);  // nxt is free for the row's first batch
	wire u_start = u_avail != '0 && (!u_busy || (u_step && u_last));

	for (genvar k = 0; k <= TU; k++) begin : mult
		wire [PW-1:0] v;
		if (k == 0) begin : zero
			assign v = '0;
		end else if (k == 1) begin : one
			assign v = u_t2;
		end else if (k % 2 == 0) begin : even
			assign v = mult[k / 2].v << 1;
		end else begin : odd
			assign v = mult[k - 1].v + u_t2;
		end
	end
	for (genvar j = 0; j < L - 1; j++) begin : thr
		wire [PW-1:0] x = u_x + mult[j % TU].v;
		wire [PW-1:0] c = x >> S;
		always_ff @(posedge ap_clk)
			if (u_step && u_cnt == UW'(j / TU)) nxt[j] <= c > PW'(EMAX) ? CW'(EMAX + 1) : c[CW-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if (u_start) begin
			u_t2 <= PW'(slot_total[u_slot]) << 1;
			u_x <= PW'(slot_total[u_slot]) + PW'(2 * L - 1);
		end else if (u_step) begin
			u_x <= u_x + mult[TU].v;
		end
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			u_slot <= '0;
			u_busy <= 1'b0;
			u_cnt <= '0;
			thr_ready <= 1'b0;
		end else begin
			if (u_start) begin
				u_slot <= enext(u_slot);
				u_busy <= 1'b1;
				u_cnt <= '0;
			end else if (u_step) begin
				u_cnt <= u_cnt + 1'b1;
				if (u_last) u_busy <= 1'b0;
			end
			if (u_step && u_last) thr_ready <= 1'b1;
			else if (c_take) thr_ready <= 1'b0;
		end
	end

	// ---- pass C: e back, binary search over the thresholds, codes -----------------------------------------
	logic [ESW-1:0] c_slot;
	logic [BW-1:0] c_beat;
	wire en = !out0_V_TVALID || out0_V_TREADY;  // the C pipeline moves
	wire c_issue = c_beat != '0 || thr_ready;
	wire c_last = c_beat == BW'(NF - 1);
	wire c_go = c_issue && en;
	assign c_take = c_go && c_beat == '0;
	wire c_free = c_go && c_last;  // the row's last beat is read: its buffer is free

	logic c1_v, c2_v;
	logic [EB-1:0] c1_e, c2_e;
	logic [CW-1:0] c1_thr [L-1];
	logic [CW-1:0] c2_thr [L-1];
	logic [H-1:0] c2_hi [PE];
	always_ff @(posedge ap_clk) begin
		if (c_go) c1_e <= ebuf[eaddr(c_slot, c_beat)];
		if (en && c1_v) c2_e <= c1_e;
	end
	for (genvar j = 0; j < L - 1; j++) begin : thr_pipe  // C's copies: the row in c1, the row in c2
		always_ff @(posedge ap_clk) begin
			if (c_take) c1_thr[j] <= nxt[j];
			if (en && c1_v) c2_thr[j] <= c1_thr[j];
		end
	end

	// code bit j (j = 0 the most significant) is e >= c_q, q = the bits above j, a 1, zeros below: the
	// candidates of bit j are the 2**j thresholds of that form, picked by the bits above
	logic [PE*OBITS-1:0] codes;
	for (genvar p = 0; p < PE; p++) begin : lane
		wire [XW-1:0] e1 = XW'(c1_e[p*EW +: EW]);
		wire [XW-1:0] e2 = XW'(c2_e[p*EW +: EW]);
		for (genvar j = 0; j < OBITS; j++) begin : bit_
			localparam int STEP = 1 << (OBITS - 1 - j);
			wire [OBITS-1:0] pre;   // bits above j, zeros from j down
			wire [CW-1:0] t;        // the candidate threshold
			wire ge;
			if (j == 0) begin : top
				assign pre = '0;
				assign t = c1_thr[STEP - 1];
			end else begin : below
				wire [CW-1:0] cand [1 << j];
				if (j == H) begin : staged
					assign pre = OBITS'(c2_hi[p]) << (OBITS - H);
				end else begin : chained
					assign pre = bit_[j-1].code;
				end
				for (genvar i = 0; i < (1 << j); i++) begin : c
					if (j < H) begin : early
						assign cand[i] = c1_thr[i * 2 * STEP + STEP - 1];
					end else begin : late
						assign cand[i] = c2_thr[i * 2 * STEP + STEP - 1];
					end
				end
				assign t = cand[pre[OBITS-1 -: j]];
			end
			if (j < H) begin : early
				assign ge = e1 >= XW'(t);
			end else begin : late
				assign ge = e2 >= XW'(t);
			end
			wire [OBITS-1:0] code = pre | (ge ? OBITS'(STEP) : '0);
		end
		if (H == OBITS) begin : staged_only  // 1-bit codes: decided in the c1 stage
			assign codes[p*OBITS +: OBITS] = c2_hi[p];
		end else begin : searched
			assign codes[p*OBITS +: OBITS] = bit_[OBITS-1].code;
		end
		always_ff @(posedge ap_clk) if (en && c1_v) c2_hi[p] <= bit_[H-1].code[OBITS-1 -: H];
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
				if (c_last) c_slot <= enext(c_slot);
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
			z_held <= '0;
			e_held <= '0;
			u_avail <= '0;
		end else begin
			z_held <= z_held + KW'(a_done) - KW'(b_issue && b_last);
			e_held <= e_held + KW'(b_issue && b_first) - KW'(c_free);
			u_avail <= u_avail + KW'(b_done) - KW'(u_start);
		end
	end
endmodule

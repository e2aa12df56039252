// Product of two activation streams (qvit-fpga's StreamMatMul): per batch slice  y[m, n] = sum_k s[k] a[m, k] b[k, n]
// with s[k] = +1/-1 from SIGN_FILE.
//   in0 (a): row by row, SIMD elements of K per beat (a slice is M rows of KF = K/SIMD beats).
//   in1 (b): [K, N], PE elements of N per beat (a slice is K * NF beats, NF = N/PE).
//   out0:    [M, N], PE elements per beat.
// b of one slice is held on chip, double-buffered (the next slice's b loads while the current one is used),
// in SIMD memories (memory s holds the rows k with k % SIMD == s). Rows of a are double-buffered too. For each
// row and each group of PE output columns, KF cycles each add SIMD products per lane into an accumulator:
// XNOR-popcount when both inputs are BIPOLAR, conditional negation when one is, multiplication otherwise.
// Element kinds (AKIND, BKIND): 0 unsigned, 1 signed two's complement, 2 BIPOLAR (bit 1 = +1, bit 0 = -1).
// Slices follow each other without end (images are just more slices). One issue per cycle; the pipeline
// (registered memory reads, accumulate, output register) stalls as a whole while the output is blocked.
module qvit_stream_matmul #(
	parameter int M = 1,             // rows of a per slice
	parameter int K = 1,
	parameter int N = 1,
	parameter int SIMD = 1,          // divides K
	parameter int PE = 1,            // divides N
	parameter int ABITS = 1,
	parameter int AKIND = 2,
	parameter int BBITS = 1,
	parameter int BKIND = 2,
	parameter int OBITS = 8,
	parameter int W = 16,            // accumulator width (signed), from the generator
	parameter SIGN_FILE = "",        // KF lines of SIMD-bit hex (bit s set: element k = kf*SIMD + s negated); "" none
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
	localparam int KF = K / SIMD;
	localparam int NF = N / PE;
	localparam int BDEPTH = 2 * KF * NF;             // words of PE elements per b memory (two banks)
	localparam int BAW = $clog2(BDEPTH);
	localparam int RAW = $clog2(2 * KF);
	localparam int KW = KF > 1 ? $clog2(KF) : 1;
	localparam int NW = NF > 1 ? $clog2(NF) : 1;
	localparam int SW = SIMD > 1 ? $clog2(SIMD) : 1;
	localparam int MW = M > 1 ? $clog2(M) : 1;
	localparam int AW = ABITS + 1;                   // a element as signed
	localparam int BW = BBITS + 1;
	localparam int PW = AW + BW;                     // one product, signed
	localparam bit XNOR = AKIND == 2 && BKIND == 2;

	// ---- per-K signs --------------------------------------------------------------------------------
	logic [SIMD-1:0] signs [KF];
	initial begin
		for (int i = 0; i < KF; i++) signs[i] = '0;
		if (SIGN_FILE != "") $readmemh(SIGN_FILE, signs);
	end

	// ---- b: SIMD memories, two banks ----------------------------------------------------------------
	logic [1:0] b_full;                  // bank holds a whole slice not yet used up
	logic wbank;
	logic [SW-1:0] ws;                   // k % SIMD of the incoming b row
	logic [KW-1:0] wkf;                  // k / SIMD
	logic [NW-1:0] wnf;
	assign in1_V_TREADY = !b_full[wbank];
	wire btake = in1_V_TVALID && in1_V_TREADY;
	wire nlast_w = int'(wnf) == NF - 1;
	wire slast_w = int'(ws) == SIMD - 1;
	wire klast_w = int'(wkf) == KF - 1;
	wire [BAW-1:0] waddr = BAW'(int'(wbank) * KF * NF + int'(wkf) * NF + int'(wnf));

	// ---- a: two row buffers -------------------------------------------------------------------------
	logic [1:0] row_full;
	logic abank;
	logic [KW-1:0] akf;
	logic [SIMD*ABITS-1:0] rows [2 * KF];
	assign in0_V_TREADY = !row_full[abank];
	wire atake = in0_V_TVALID && in0_V_TREADY;

	// ---- issue: one (row, column group, k group) per cycle -------------------------------------------
	wire adv = !out0_V_TVALID || out0_V_TREADY;   // the whole pipeline moves
	logic cbank, crow;
	logic [KW-1:0] ckf;
	logic [NW-1:0] cnf;
	logic [MW-1:0] cm;
	wire go = adv && b_full[cbank] && row_full[crow];
	wire klast = int'(ckf) == KF - 1;
	wire nlast = int'(cnf) == NF - 1;
	wire mlast = int'(cm) == M - 1;
	wire [BAW-1:0] raddr = BAW'(int'(cbank) * KF * NF + int'(ckf) * NF + int'(cnf));

	// stage 1: the operands read in the cycle before
	logic s1_valid, s1_first, s1_last;
	logic [SIMD*ABITS-1:0] aq;
	logic [SIMD-1:0] sq;
	logic [PE*BBITS-1:0] bq [SIMD];

	for (genvar s = 0; s < SIMD; s++) begin : bmem
		logic [PE*BBITS-1:0] mem [BDEPTH];
		always_ff @(posedge ap_clk) begin
			if (btake && int'(ws) == s) mem[waddr] <= in1_V_TDATA[PE*BBITS-1:0];
			if (go) bq[s] <= mem[raddr];
		end
	end

	always_ff @(posedge ap_clk) begin
		if (atake) rows[RAW'(int'(abank) * KF + int'(akf))] <= in0_V_TDATA[SIMD*ABITS-1:0];
		if (go) begin
			aq <= rows[RAW'(int'(crow) * KF + int'(ckf))];
			sq <= signs[ckf];
		end
	end

	// ---- stage 1: SIMD products per lane, accumulated over KF cycles ----------------------------------
	logic [PE*OBITS-1:0] ys;
	logic signed [W-1:0] acc [PE];
	logic signed [W-1:0] total [PE];
	for (genvar p = 0; p < PE; p++) begin : lane
		logic signed [W-1:0] part;
		if (XNOR) begin : xnor_popcount
			logic [SIMD-1:0] agree;      // product +1
			always_comb begin
				for (int s = 0; s < SIMD; s++) agree[s] = !(aq[s] ^ bq[s][p] ^ sq[s]);
				part = -(W'(SIMD));
				for (int s = 0; s < SIMD; s++) part = part + (agree[s] ? W'(2) : W'(0));
			end
		end else begin : products
			always_comb begin
				part = '0;
				for (int s = 0; s < SIMD; s++) begin
					logic [ABITS-1:0] ra;
					logic [BBITS-1:0] rb;
					logic signed [AW-1:0] av;
					logic signed [BW-1:0] bv;
					logic signed [PW-1:0] t;
					ra = aq[s*ABITS +: ABITS];
					rb = bq[s][p*BBITS +: BBITS];
					av = AKIND == 1 ? AW'($signed(ra)) : AW'($unsigned(ra));
					bv = BKIND == 1 ? BW'($signed(rb)) : BW'($unsigned(rb));
					if (BKIND == 2) t = rb[0] ? PW'(av) : -(PW'(av));
					else if (AKIND == 2) t = ra[0] ? PW'(bv) : -(PW'(bv));
					else t = PW'(av) * PW'(bv);
					part = part + (sq[s] ? -(W'(t)) : W'(t));
				end
			end
		end
		assign total[p] = (s1_first ? W'(0) : acc[p]) + part;
		assign ys[p*OBITS +: OBITS] = total[p][OBITS-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			b_full <= '0;
			wbank <= 1'b0;
			ws <= '0;
			wkf <= '0;
			wnf <= '0;
			row_full <= '0;
			abank <= 1'b0;
			akf <= '0;
			cbank <= 1'b0;
			crow <= 1'b0;
			ckf <= '0;
			cnf <= '0;
			cm <= '0;
			s1_valid <= 1'b0;
			s1_first <= 1'b0;
			s1_last <= 1'b0;
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
		end else begin
			// b arrives k-major, PE columns per beat: wnf fastest, then k % SIMD, then k / SIMD
			if (btake) begin
				wnf <= nlast_w ? '0 : wnf + 1'b1;
				if (nlast_w) begin
					ws <= slast_w ? '0 : ws + 1'b1;
					if (slast_w) begin
						wkf <= klast_w ? '0 : wkf + 1'b1;
						if (klast_w) begin
							b_full[wbank] <= 1'b1;
							wbank <= !wbank;
						end
					end
				end
			end
			if (atake) begin
				akf <= (int'(akf) == KF - 1) ? '0 : akf + 1'b1;
				if (int'(akf) == KF - 1) begin
					row_full[abank] <= 1'b1;
					abank <= !abank;
				end
			end
			// issue order: k groups fastest, then column groups, then rows; a row (a slice's b) is
			// released when its last operands are read
			if (go) begin
				ckf <= klast ? '0 : ckf + 1'b1;
				if (klast) begin
					cnf <= nlast ? '0 : cnf + 1'b1;
					if (nlast) begin
						row_full[crow] <= 1'b0;
						crow <= !crow;
						cm <= mlast ? '0 : cm + 1'b1;
						if (mlast) begin
							b_full[cbank] <= 1'b0;
							cbank <= !cbank;
						end
					end
				end
			end
			if (adv) begin
				s1_valid <= go;
				s1_first <= int'(ckf) == 0;
				s1_last <= klast;
			end
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (adv && s1_valid) begin
				for (int p = 0; p < PE; p++) acc[p] <= total[p];
				if (s1_last) begin
					out0_V_TVALID <= 1'b1;
					out0_V_TDATA <= OUT_W'(ys);
				end
			end
		end
	end
endmodule

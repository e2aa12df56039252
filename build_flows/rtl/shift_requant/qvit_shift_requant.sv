// Requantisation by a power of two (qvit-fpga's ShiftRequant layer), PE lanes per beat:
//   code = clip(round_half_even((n << LSHIFT) + OFFSET[c]) / 2**F), QMIN, QMAX)
// where n is the integer input, LSHIFT = shift + F >= 0, and OFFSET[c] is the per-channel offset times
// 2**F (an integer: the offsets are dyadic). Channels cycle along the stream, PE per beat.
// One beat per cycle; AXI-stream valid/ready with one output register.
module qvit_shift_requant #(
	parameter int PE = 1,
	parameter int CHANNELS = 1,
	parameter int IBITS = 8,
	parameter int ISIGNED = 1,
	parameter int OBITS = 8,
	parameter int W = 32,            // datapath width (signed), from the generator
	parameter int LSHIFT = 0,
	parameter int F = 0,             // fraction bits rounded away
	parameter int QMIN = 0,
	parameter int QMAX = 255,
	parameter OFFSET_FILE = "",      // CHANNELS lines of W-bit two's complement hex; "" for no offsets
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
	localparam int NF = CHANNELS / PE;
	localparam int CW = NF > 1 ? $clog2(NF) : 1;

	logic signed [W-1:0] offsets [CHANNELS];
	initial begin
		for (int c = 0; c < CHANNELS; c++) offsets[c] = '0;
		if (OFFSET_FILE != "") $readmemh(OFFSET_FILE, offsets);
	end

	logic [CW-1:0] fold;  // which group of PE channels the current input beat holds
	wire take = in0_V_TVALID && in0_V_TREADY;
	assign in0_V_TREADY = !out0_V_TVALID || out0_V_TREADY;

	logic [PE*OBITS-1:0] codes;
	for (genvar p = 0; p < PE; p++) begin : lane
		wire [IBITS-1:0] raw = in0_V_TDATA[p*IBITS +: IBITS];
		wire signed [W-1:0] n = ISIGNED != 0 ? W'($signed(raw)) : W'($unsigned(raw));
		wire signed [W-1:0] y = (n <<< LSHIFT) + offsets[int'(fold) * PE + p];
		logic signed [W-1:0] q;
		if (F == 0) begin : exact
			assign q = y;
		end else begin : rounded
			wire signed [W-1:0] down = y >>> F;
			wire [F-1:0] frac = y[F-1:0];
			wire [F-1:0] half = F'(1) << (F - 1);
			wire up = frac > half || (frac == half && down[0]);
			assign q = down + W'(up);
		end
		wire signed [W-1:0] lo = W'(QMIN);
		wire signed [W-1:0] hi = W'(QMAX);
		wire signed [W-1:0] clipped = q < lo ? lo : (q > hi ? hi : q);
		assign codes[p*OBITS +: OBITS] = clipped[OBITS-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			fold <= '0;
		end else begin
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (take) begin
				out0_V_TVALID <= 1'b1;
				out0_V_TDATA <= OUT_W'(codes);
				fold <= (int'(fold) == NF - 1) ? '0 : fold + 1'b1;
			end
		end
	end
endmodule

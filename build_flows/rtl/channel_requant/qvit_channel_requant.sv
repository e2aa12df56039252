// Per-channel fixed-point requantisation (qvit-fpga's ChannelRequant layer), PE lanes per beat:
//   out = QMIN + clip((MULT[c] * n + ADD[c]) >>> SHIFT, 0, LEVELS)
// where n is the integer input and >>> the arithmetic shift (floor division by 2**SHIFT). Channels cycle
// along the stream, PE per beat (INNER = 1), or the channel is an outer axis: it changes every INNER
// elements, every INNER/PE beats, and all lanes of a beat share it (INNER > 1). The datapath width W
// (signed) is sized by the generator so that MULT[c] * n + ADD[c] never overflows. Two pipeline stages
// (multiply-add, then shift and clip) that advance together; one beat per cycle; AXI-stream valid/ready.
module qvit_channel_requant #(
	parameter int PE = 1,
	parameter int CHANNELS = 1,
	parameter int INNER = 1,         // elements per channel run (1: the channel is the last axis)
	parameter int IBITS = 8,
	parameter int ISIGNED = 1,
	parameter int OBITS = 8,
	parameter int MW = 18,           // signed width of the multipliers
	parameter int W = 48,            // signed width of MULT * n + ADD
	parameter int SHIFT = 0,
	parameter int LEVELS = 255,
	parameter int QMIN = 0,
	parameter MULT_FILE = "",        // CHANNELS lines of MW-bit two's complement hex
	parameter ADD_FILE = "",         // CHANNELS lines of W-bit two's complement hex
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
	localparam int NF = INNER > 1 ? CHANNELS : CHANNELS / PE;  // channel groups in a cycle of the stream
	localparam int CW = NF > 1 ? $clog2(NF) : 1;
	localparam int RUN = INNER > 1 ? INNER / PE : 1;            // beats of one channel group
	localparam int RW = RUN > 1 ? $clog2(RUN) : 1;
	localparam int NB = IBITS + 1;   // the input as a signed number

	logic signed [MW-1:0] mults [CHANNELS];
	logic signed [W-1:0] adds [CHANNELS];
	initial begin
		$readmemh(MULT_FILE, mults);
		$readmemh(ADD_FILE, adds);
	end

	logic [CW-1:0] fold;  // which group of PE channels (or which channel, INNER > 1) the input beat holds
	logic [RW-1:0] run;   // beats of the current group taken so far
	logic v1;             // stage 1 (multiply-add) holds a beat
	// both stages move when the output register can take a beat
	wire advance = !out0_V_TVALID || out0_V_TREADY;
	wire take = in0_V_TVALID && advance;
	assign in0_V_TREADY = advance;

	logic [PE*OBITS-1:0] codes;
	for (genvar p = 0; p < PE; p++) begin : lane
		wire [IBITS-1:0] raw = in0_V_TDATA[p*IBITS +: IBITS];
		wire signed [NB-1:0] n = ISIGNED != 0 ? NB'($signed(raw)) : NB'($unsigned(raw));
		// lanes share the channel when it is an outer axis
		wire integer c = INNER > 1 ? int'(fold) : int'(fold) * PE + p;
		wire signed [MW+NB-1:0] prod = mults[c] * n;
		wire signed [W-1:0] y = W'(prod) + adds[c];
		logic signed [W-1:0] acc;  // stage 1
		always_ff @(posedge ap_clk) if (take) acc <= y;

		wire signed [W-1:0] q = acc >>> SHIFT;
		wire signed [W-1:0] hi = W'(LEVELS);
		wire signed [W-1:0] count = q < 0 ? '0 : (q > hi ? hi : q);
		wire signed [OBITS-1:0] code = OBITS'(count) + OBITS'(QMIN);
		assign codes[p*OBITS +: OBITS] = code;
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			v1 <= 1'b0;
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			fold <= '0;
			run <= '0;
		end else if (advance) begin
			v1 <= in0_V_TVALID;
			out0_V_TVALID <= v1;
			if (v1) out0_V_TDATA <= OUT_W'(codes);
			if (take) begin
				run <= (int'(run) == RUN - 1) ? '0 : run + 1'b1;
				if (int'(run) == RUN - 1) fold <= (int'(fold) == NF - 1) ? '0 : fold + 1'b1;
			end
		end
	end
endmodule

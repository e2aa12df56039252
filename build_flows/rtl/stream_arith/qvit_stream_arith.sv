// Element-wise arithmetic of two AXI streams of one shape, PE lanes per beat (qvit-fpga's AddStreams and
// MulStreams): per lane  y = (NEG0[c] ? -a : a) + (NEG1[c] ? -b : b)  (OP 0, add)  or  y = a * b  (OP 1).
// Channels cycle along the stream, PE per beat; the per-channel negations come from SIGN_FILE (one hex
// digit per channel: bit 0 negates input 0, bit 1 input 1). A beat is taken from both inputs together;
// one beat per cycle, one output register. With B_FILE set, input 1 is a constant tensor (a position
// embedding) read from a ROM of B_BEATS beats, one per input-0 beat, restarting with every image; in1_V
// is then unused.
module qvit_stream_arith #(
	parameter int PE = 1,
	parameter int CHANNELS = 1,
	parameter int OP = 0,            // 0: signed add, 1: multiply
	parameter int ABITS = 8,
	parameter int ASIGNED = 1,
	parameter int BBITS = 8,
	parameter int BSIGNED = 1,
	parameter int OBITS = 9,
	parameter SIGN_FILE = "",        // "" when no input is negated
	parameter B_FILE = "",           // "" when input 1 is a stream
	parameter int B_BEATS = 1,
	parameter int IN0_W = 8,         // padded stream widths
	parameter int IN1_W = 8,
	parameter int OUT_W = 16
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
	localparam int NF = CHANNELS / PE;
	localparam int CW = NF > 1 ? $clog2(NF) : 1;
	localparam int W = OP == 0 ? (ABITS > BBITS ? ABITS : BBITS) + 2 : ABITS + BBITS + 1;

	logic [3:0] negs [CHANNELS];
	initial begin
		for (int c = 0; c < CHANNELS; c++) negs[c] = '0;
		if (SIGN_FILE != "") $readmemh(SIGN_FILE, negs);
	end

	logic [CW-1:0] fold;
	wire space = !out0_V_TVALID || out0_V_TREADY;
	logic [IN1_W-1:0] b_beat;
	logic b_valid;
	wire take = in0_V_TVALID && b_valid && space;
	assign in0_V_TREADY = b_valid && space;
	if (B_FILE != "") begin : rom
		localparam int BW = B_BEATS > 1 ? $clog2(B_BEATS) : 1;
		logic [IN1_W-1:0] beats [B_BEATS];
		initial $readmemh(B_FILE, beats);
		logic [BW-1:0] idx;
		always_ff @(posedge ap_clk) begin
			if (!ap_rst_n) idx <= '0;
			else if (take) idx <= (int'(idx) == B_BEATS - 1) ? '0 : idx + 1'b1;
		end
		assign b_beat = beats[idx];
		assign b_valid = 1'b1;
		assign in1_V_TREADY = 1'b0;
	end else begin : stream
		assign b_beat = in1_V_TDATA;
		assign b_valid = in1_V_TVALID;
		assign in1_V_TREADY = in0_V_TVALID && space;
	end

	logic [PE*OBITS-1:0] ys;
	for (genvar p = 0; p < PE; p++) begin : lane
		wire [ABITS-1:0] ra = in0_V_TDATA[p*ABITS +: ABITS];
		wire [BBITS-1:0] rb = b_beat[p*BBITS +: BBITS];
		wire signed [W-1:0] a = ASIGNED != 0 ? W'($signed(ra)) : W'($unsigned(ra));
		wire signed [W-1:0] b = BSIGNED != 0 ? W'($signed(rb)) : W'($unsigned(rb));
		wire [3:0] neg = negs[int'(fold) * PE + p];
		wire signed [W-1:0] y;
		if (OP == 0) begin : add
			assign y = (neg[0] ? -a : a) + (neg[1] ? -b : b);
		end else begin : mul
			assign y = a * b;
		end
		assign ys[p*OBITS +: OBITS] = y[OBITS-1:0];
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
				out0_V_TDATA <= OUT_W'(ys);
				fold <= (int'(fold) == NF - 1) ? '0 : fold + 1'b1;
			end
		end
	end
endmodule

// Constant padding of a channels-last stream (qvit-fpga's PadStream layer): per image an output tensor of
// up to four axes ODIM (the last one counted in beats of PE elements), in which the box of IDIM starting
// at BEFORE holds the input stream in order and every other beat is PAD (PE copies of the pad value).
// Counters over the output positions drive a multiplexer: inside the box a beat is taken from the input,
// outside PAD is emitted without it. One output beat per cycle; AXI-stream valid/ready with one output
// register.
module qvit_pad_stream #(
	parameter int PE = 1,
	parameter int BITS = 8,                     // bits per element
	parameter int CW = 8,                       // counter width (holds every ODIM entry)
	// per axis k (0 outermost) in bits [32*k +: 32], the last axis counted in beats
	// (packed vectors rather than arrays: yosys reads no array parameters)
	parameter logic [127:0] ODIM = {4{32'd1}},  // output size
	parameter logic [127:0] IDIM = {4{32'd1}},  // input size
	parameter logic [127:0] BEFORE = '0,        // padding before the input
	parameter logic [PE*BITS-1:0] PAD = '0,     // the beat emitted outside the input
	parameter int IN_W = 8,                     // padded stream widths
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
	logic [CW-1:0] pos [4];  // the output position of the next beat
	logic [3:0] in_box;      // per axis: pos inside the input's extent
	logic [3:0] at_end;      // per axis: pos at the axis' last index
	logic [3:0] moves;       // per axis: pos moves on with this beat (every axis inside it is at its end)
	for (genvar k = 0; k < 4; k++) begin : axis
		localparam int O = int'(ODIM[32*k +: 32]);
		localparam int I = int'(IDIM[32*k +: 32]);
		localparam int B = int'(BEFORE[32*k +: 32]);
		assign in_box[k] = int'(pos[k]) >= B && int'(pos[k]) < B + I;
		assign at_end[k] = int'(pos[k]) == O - 1;
		if (k == 3) begin : innermost
			assign moves[k] = 1'b1;
		end else begin : outer
			assign moves[k] = moves[k+1] && at_end[k+1];
		end
	end
	wire from_input = &in_box;

	wire advance = !out0_V_TVALID || out0_V_TREADY;
	assign in0_V_TREADY = advance && from_input;
	wire step = advance && (!from_input || in0_V_TVALID);

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			for (int k = 0; k < 4; k++) pos[k] <= '0;
		end else if (step) begin
			out0_V_TVALID <= 1'b1;
			out0_V_TDATA <= from_input ? OUT_W'(in0_V_TDATA[PE*BITS-1:0]) : OUT_W'(PAD);
			for (int k = 0; k < 4; k++) begin
				if (moves[k]) pos[k] <= at_end[k] ? '0 : pos[k] + 1'b1;
			end
		end else if (out0_V_TREADY) begin
			out0_V_TVALID <= 1'b0;
		end
	end
endmodule

// Constant tokens joined to a stream (qvit-fpga's InsertTokens layer: class and distillation tokens): per
// image NB constant beats, then the NI beats of the input, then NA constant beats, PE elements per beat.
// The constant beats come from TABLE (before-beats first, then after-beats, beat k in bits [k*BW +: BW]);
// a counter over the output beats drives the multiplexer, and the input is taken only between the
// constants. One output beat per cycle; AXI-stream valid/ready with one output register.
module qvit_insert_tokens #(
	parameter int PE = 1,
	parameter int BITS = 8,                  // bits per element
	parameter int NB = 1,                    // constant beats before the input, per image
	parameter int NI = 1,                    // input beats per image
	parameter int NA = 0,                    // constant beats after the input, per image
	parameter logic [(NB+NA)*PE*BITS-1:0] TABLE = '0,
	parameter int IN_W = 8,                  // padded stream widths
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
	localparam int BW = PE * BITS;
	localparam int TOTAL = NB + NI + NA;
	localparam int PW = TOTAL > 1 ? $clog2(TOTAL) : 1;

	logic [PW-1:0] pos;  // the output beat of the image that comes next
	wire in_span = int'(pos) >= NB && int'(pos) < NB + NI;
	wire adv = !out0_V_TVALID || out0_V_TREADY;
	assign in0_V_TREADY = adv && in_span;
	wire take = in0_V_TVALID && in0_V_TREADY;
	wire emit = adv && !in_span;
	wire [PW-1:0] row = int'(pos) < NB ? pos : PW'(int'(pos) - NI);  // table beat of a constant position

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			pos <= '0;
		end else begin
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (take || emit) begin
				out0_V_TVALID <= 1'b1;
				out0_V_TDATA <= OUT_W'(in_span ? in0_V_TDATA[BW-1:0] : TABLE[int'(row)*BW +: BW]);
				pos <= int'(pos) == TOTAL - 1 ? '0 : pos + 1'b1;
			end
		end
	end
endmodule

// AXI-stream data-width converter (qvit-fpga): IBITS-bit beats in, OBITS-bit beats out, bits in stream
// order (the low bits of a beat go first, FINN's little-endian convention). Any pair of widths.
// (finn-rtllib's vpc.sv makes Verilator 5.48 fail with an internal error for some width pairs.)
module qvit_dwc #(
	parameter int IBITS = 8,
	parameter int OBITS = 8
)(
	input  logic ap_clk,
	input  logic ap_rst_n,
	output logic s_axis_tready,
	input  logic s_axis_tvalid,
	input  logic [(IBITS+7)/8*8-1:0] s_axis_tdata,
	input  logic m_axis_tready,
	output logic m_axis_tvalid,
	output logic [(OBITS+7)/8*8-1:0] m_axis_tdata
);
	localparam int W = IBITS + OBITS;
	localparam int CW = $clog2(W + 1) + 1;  // holds cnt + IBITS without wrapping
	logic [W-1:0] buffer;
	logic [CW-1:0] cnt;
	wire pop = m_axis_tvalid && m_axis_tready;
	wire [CW-1:0] kept = pop ? cnt - CW'(OBITS) : cnt;
	wire push = s_axis_tvalid && s_axis_tready;
	wire [W-1:0] shifted = pop ? (buffer >> OBITS) : buffer;

	assign m_axis_tvalid = cnt >= CW'(OBITS);
	assign s_axis_tready = kept + CW'(IBITS) <= CW'(W);
	assign m_axis_tdata = {{((OBITS+7)/8*8-OBITS){1'b0}}, buffer[OBITS-1:0]};

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			cnt <= '0;
			buffer <= '0;
		end else begin
			buffer <= push ? (shifted | (W'(s_axis_tdata[IBITS-1:0]) << kept)) : shifted;
			cnt <= push ? kept + CW'(IBITS) : kept;
		end
	end
endmodule

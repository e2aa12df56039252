// One two-image buffer: written at waddr, read synchronously at raddr when re; in block RAM (BLOCK) or
// distributed RAM, as the layer's memory decision says (the estimate counts the same).
module qvit_stream_layout_buffer #(
	parameter int W = 8,
	parameter int DEPTH = 2,
	parameter int AW = 1,
	parameter int BLOCK = 0
)(
	input  logic clk,
	input  logic we,
	input  logic [AW-1:0] waddr,
	input  logic [W-1:0] wdata,
	input  logic re,
	input  logic [AW-1:0] raddr,
	output logic [W-1:0] rdata
);
	if (BLOCK != 0) begin : g_block
		(* ram_style = "block" *) logic [W-1:0] mem [DEPTH];
		always_ff @(posedge clk) begin
			if (we) mem[waddr] <= wdata;
			if (re) rdata <= mem[raddr];
		end
	end else begin : g_distributed
		(* ram_style = "distributed" *) logic [W-1:0] mem [DEPTH];
		always_ff @(posedge clk) begin
			if (we) mem[waddr] <= wdata;
			if (re) rdata <= mem[raddr];
		end
	end
endmodule

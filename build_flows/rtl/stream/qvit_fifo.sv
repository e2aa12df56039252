// AXI-stream FIFO with occupancy high-water mark (qvit-fpga).
//
// Used between stitched stages in simulation. (finn-rtllib's fifo.sv computes its geometry with a
// struct-returning constant function that Verilator 5.48 cannot evaluate.) DEPTH entries in a circular
// buffer (LUTRAM/BRAM by RAM_STYLE), first-word fall-through, full throughput (one beat per cycle).
module qvit_fifo #(
	parameter int DEPTH = 2,
	parameter int DATA_WIDTH = 8,
	parameter RAM_STYLE = "auto",
	localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1,
	localparam int CW = $clog2(DEPTH + 1) + 1
)(
	input  logic clk,
	input  logic rst,
	input  logic [DATA_WIDTH-1:0] idat,
	input  logic ivld,
	output logic irdy,
	output logic [DATA_WIDTH-1:0] odat,
	output logic ovld,
	input  logic ordy,
	output logic [CW-1:0] count,
	output logic [CW-1:0] maxcount,
	output logic [15:0] pushed         // beats that entered, modulo 2**16 (for locating a deadlock)
);
	(* ram_style = RAM_STYLE *) logic [DATA_WIDTH-1:0] mem [DEPTH];
	logic [AW-1:0] wp, rp;
	logic [CW-1:0] n;
	wire push = ivld && irdy;
	wire pop = ovld && ordy;

	assign irdy = n != CW'(DEPTH);
	assign ovld = n != 0;
	assign odat = mem[rp];
	assign count = n;

	always_ff @(posedge clk) begin
		if (rst) begin
			wp <= '0; rp <= '0; n <= '0; maxcount <= '0; pushed <= '0;
		end else begin
			if (push) wp <= (wp == AW'(DEPTH - 1)) ? '0 : wp + 1'b1;
			if (push) pushed <= pushed + 1'b1;
			if (pop) rp <= (rp == AW'(DEPTH - 1)) ? '0 : rp + 1'b1;
			n <= n + CW'(push) - CW'(pop);
			if (n + CW'(push) - CW'(pop) > maxcount) maxcount <= n + CW'(push) - CW'(pop);
		end
	end
	always_ff @(posedge clk) if (push) mem[wp] <= idat;
endmodule

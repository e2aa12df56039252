// A fork: every input beat goes to each of N output streams (FINN's DuplicateStreams). An input beat is
// taken once every output has delivered the previous one, so a slow branch stalls the fork (the FIFOs
// on the branches absorb the skew); one beat per cycle when all outputs are ready.
module qvit_duplicate_streams #(
	parameter int N = 2,
	parameter int W = 8              // padded stream width
)(
	input  logic ap_clk,
	input  logic ap_rst_n,
	output logic in0_V_TREADY,
	input  logic in0_V_TVALID,
	input  logic [W-1:0] in0_V_TDATA,
	input  logic [N-1:0] out_ready,
	output logic [N-1:0] out_valid,
	output logic [W-1:0] out_data
);
	logic [N-1:0] pending;  // outputs that still have to take the held beat
	assign out_valid = pending;
	assign in0_V_TREADY = (pending & ~out_ready) == '0;

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			pending <= '0;
			out_data <= '0;
		end else if (in0_V_TVALID && in0_V_TREADY) begin
			pending <= '1;
			out_data <= in0_V_TDATA;
		end else begin
			pending <= pending & ~out_ready;
		end
	end
endmodule

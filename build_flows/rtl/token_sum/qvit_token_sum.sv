// Sum (or, with MAX=1, maximum) over the token axis: [T, C] in, [C] out per image, PE channels per
// beat. qvit-fpga's TokenSum layer uses the sum; its WindowMax layer (max pooling) the maximum over the
// window positions of a sliding-window stream, each output pixel being one "image" of TOKENS positions. One accumulator per channel in a small memory (CHANNELS/PE words of PE sums, read asynchronously:
// distributed RAM). Each input beat adds to its channels' sums, the first token of an image starting them
// afresh; during the last token each sum is complete as its beat arrives and leaves as an output beat
// instead of being written back, so the output needs no phase of its own: one input beat per cycle,
// TOKENS * CHANNELS / PE cycles per image. AXI-stream valid/ready with one output register.
module qvit_token_sum #(
	parameter int PE = 1,
	parameter int CHANNELS = 1,
	parameter int TOKENS = 1,
	parameter int IBITS = 8,
	parameter int ISIGNED = 1,
	parameter int OBITS = 16,        // sum width: the generator checks that TOKENS inputs fit (MAX: = IBITS)
	parameter int MAX = 0,           // 1: running maximum instead of the sum (signed compare when ISIGNED)
	parameter int IN_W = 8,          // padded stream widths
	parameter int OUT_W = 16
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
	localparam int FW = NF > 1 ? $clog2(NF) : 1;
	localparam int TW = TOKENS > 1 ? $clog2(TOKENS) : 1;

	logic [PE*OBITS-1:0] sums [NF];
	logic [FW-1:0] fold;  // which group of PE channels the current input beat holds
	logic [TW-1:0] tok;   // which token
	wire first = tok == '0;
	wire last = int'(tok) == TOKENS - 1;
	// only beats of the last token produce output, and only they wait for the output register
	assign in0_V_TREADY = !last || !out0_V_TVALID || out0_V_TREADY;
	wire take = in0_V_TVALID && in0_V_TREADY;

	logic [PE*OBITS-1:0] next;
	for (genvar p = 0; p < PE; p++) begin : lane
		wire [IBITS-1:0] raw = in0_V_TDATA[p*IBITS +: IBITS];
		wire [OBITS-1:0] x = ISIGNED != 0 ? OBITS'($signed(raw)) : OBITS'(raw);
		wire [OBITS-1:0] kept = sums[fold][p*OBITS +: OBITS];
		if (MAX != 0) begin : running_max
			wire greater = ISIGNED != 0 ? $signed(x) > $signed(kept) : x > kept;
			assign next[p*OBITS +: OBITS] = first || greater ? x : kept;
		end else begin : running_sum
			assign next[p*OBITS +: OBITS] = (first ? '0 : kept) + x;
		end
	end

	always_ff @(posedge ap_clk) begin
		if (take && !last) sums[fold] <= next;
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			fold <= '0;
			tok <= '0;
		end else begin
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (take) begin
				if (last) begin
					out0_V_TVALID <= 1'b1;
					out0_V_TDATA <= OUT_W'(next);
				end
				if (int'(fold) == NF - 1) begin
					fold <= '0;
					tok <= last ? '0 : tok + 1'b1;
				end else begin
					fold <= fold + 1'b1;
				end
			end
		end
	end
endmodule

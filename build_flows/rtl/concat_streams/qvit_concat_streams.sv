// Two AXI streams joined along one axis (qvit-fpga's ConcatStreams layer): NA beats of input 0, then NB beats
// of input 1, repeated (one repetition per block of the output along the axis; an image is a whole number of
// them). Each element is widened to OBITS bits by its input's kind: 0 unsigned, 1 signed, 2 bipolar (bit 1 is
// +1, bit 0 is -1); with OKIND 2 both inputs are bipolar and pass unchanged. One beat per cycle; AXI-stream
// valid/ready with one output register.
module qvit_concat_streams #(
	parameter int PE = 1,
	parameter int ABITS = 8,
	parameter int AKIND = 1,
	parameter int BBITS = 8,
	parameter int BKIND = 1,
	parameter int OBITS = 8,
	parameter int OKIND = 1,
	parameter int NA = 1,                  // beats of input 0 per block
	parameter int NB = 1,                  // beats of input 1 per block
	parameter int IN0_W = 8,               // padded stream widths
	parameter int IN1_W = 8,
	parameter int OUT_W = 8
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
	localparam int RUN = NA > NB ? NA : NB;
	localparam int CW = RUN > 1 ? $clog2(RUN) : 1;

	logic from_b;          // the run in progress is input 1's
	logic [CW-1:0] cnt;    // beats of the run taken so far
	wire space = !out0_V_TVALID || out0_V_TREADY;
	assign in0_V_TREADY = space && !from_b;
	assign in1_V_TREADY = space && from_b;
	wire take = from_b ? in1_V_TVALID : in0_V_TVALID;
	wire last = int'(cnt) == (from_b ? NB : NA) - 1;

	logic [PE*OBITS-1:0] ya, yb;
	for (genvar p = 0; p < PE; p++) begin : lane
		wire [ABITS-1:0] ra = in0_V_TDATA[p*ABITS +: ABITS];
		wire [BBITS-1:0] rb = in1_V_TDATA[p*BBITS +: BBITS];
		if (OKIND == 2) begin : bipolar
			assign ya[p*OBITS +: OBITS] = OBITS'(ra);
			assign yb[p*OBITS +: OBITS] = OBITS'(rb);
		end else begin : widen
			assign ya[p*OBITS +: OBITS] = AKIND == 2 ? (ra[0] ? OBITS'(1) : '1)
			                            : AKIND == 1 ? OBITS'($signed(ra)) : OBITS'($unsigned(ra));
			assign yb[p*OBITS +: OBITS] = BKIND == 2 ? (rb[0] ? OBITS'(1) : '1)
			                            : BKIND == 1 ? OBITS'($signed(rb)) : OBITS'($unsigned(rb));
		end
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
			from_b <= 1'b0;
			cnt <= '0;
		end else begin
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (space && take) begin
				out0_V_TVALID <= 1'b1;
				out0_V_TDATA <= OUT_W'(from_b ? yb : ya);
				cnt <= last ? '0 : cnt + 1'b1;
				if (last) from_b <= !from_b;
			end
		end
	end
endmodule

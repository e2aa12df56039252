// Nearest-neighbour upsampling of a channels-last stream by whole factors (FINN's UpsampleNearestNeighbour in RTL):
// each input row of WI pixels (CF beats each) is written into one of two row banks while the other bank is read
// out SH times, every pixel SW times in a row, so output row r of the image is input row r / SH and output
// column c is input column c / SW. One output beat per cycle once a row is in; AXI-stream valid/ready with one
// output register; the banks are distributed RAM.
module qvit_upsample #(
	parameter int W = 8,     // bits per beat (SIMD elements)
	parameter int CF = 1,    // beats per pixel
	parameter int WI = 1,    // input pixels per row
	parameter int SH = 2,    // row repetitions
	parameter int SW = 2,    // pixel repetitions within a row
	parameter int IN_W = 8,  // padded stream widths
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
	localparam int ROW = WI * CF;  // beats per row bank
	localparam int AW = $clog2(2 * ROW);
	localparam int PW = ROW > 1 ? $clog2(ROW) : 1;
	localparam int FW = CF > 1 ? $clog2(CF) : 1;
	localparam int RW = SW > 1 ? $clog2(SW) : 1;
	localparam int XW = WI > 1 ? $clog2(WI) : 1;
	localparam int HW = SH > 1 ? $clog2(SH) : 1;

	logic [W-1:0] banks [2 * ROW];
	logic [1:0] full;                          // a bank holds a whole row not yet read out SH times
	logic wb, rb;                              // the bank being written, the bank being read
	logic [PW-1:0] wpos;            // beats of the row written so far
	logic [FW-1:0] f;                // read position: beat of the pixel,
	logic [RW-1:0] rw;               //   repetition of the pixel,
	logic [XW-1:0] x;                //   pixel of the row,
	logic [HW-1:0] rh;               //   repetition of the row

	assign in0_V_TREADY = !full[wb];
	wire put = in0_V_TVALID && in0_V_TREADY;
	wire space = !out0_V_TVALID || out0_V_TREADY;
	wire get = space && full[rb];
	wire last_f = int'(f) == CF - 1, last_rw = int'(rw) == SW - 1, last_x = int'(x) == WI - 1;
	wire last_rh = int'(rh) == SH - 1;
	wire done = last_f && last_rw && last_x && last_rh;  // the row's last output beat
	wire [AW-1:0] raddr = AW'(int'(rb) * ROW + int'(x) * CF + int'(f));
	wire row_in = put && int'(wpos) == ROW - 1;

	always_ff @(posedge ap_clk) begin
		if (put) banks[AW'(int'(wb) * ROW + int'(wpos))] <= in0_V_TDATA[W-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if (!ap_rst_n) begin
			full <= '0;
			wb <= 1'b0;
			rb <= 1'b0;
			wpos <= '0;
			{f, rw, x, rh} <= '0;
			out0_V_TVALID <= 1'b0;
			out0_V_TDATA <= '0;
		end else begin
			if (put) begin
				wpos <= row_in ? '0 : wpos + 1'b1;
				if (row_in) wb <= !wb;
			end
			if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
			if (get) begin
				out0_V_TVALID <= 1'b1;
				out0_V_TDATA <= OUT_W'(banks[raddr]);
				f <= last_f ? '0 : f + 1'b1;
				if (last_f) rw <= last_rw ? '0 : rw + 1'b1;
				if (last_f && last_rw) x <= last_x ? '0 : x + 1'b1;
				if (last_f && last_rw && last_x) rh <= last_rh ? '0 : rh + 1'b1;
				if (done) rb <= !rb;
			end
			// a bank fills and another empties in one cycle only when they differ (wb != rb then)
			full <= (full | (row_in ? (2'b01 << wb) : 2'b00)) & ~((get && done) ? (2'b01 << rb) : 2'b00);
		end
	end
endmodule

// A fixed reorder of one tensor per image (qvit-fpga's StreamLayout layer): y.flat = x.flat[gather],
// PE elements per beat in and out, NB beats per image in and NBO out (fewer for a selection: class tokens,
// slices; the gather may also repeat elements). MODE (chosen by the generator from the gather):
//   0  identity: a register stage (NB beats per image, no buffer);
//   1  beat gather: every output beat is one whole input beat (heads split/merge, PE = 1 transposes):
//      a reorder buffer of beats and a ROM (ROM_FILE, NBO lines) of the input beat each output beat reads;
//   2  element gather: each output lane reads any element (transposes with PE > 1): the ROM gives per lane
//      an input beat and the element in it. Each lane reads its own copy of the buffer (all copies written
//      alike), so synthesis holds PE copies: the buffer memory grows PE-fold.
// Modes 1 and 2 buffer two images (ping-pong): image k+1 is written, in input order, while image k is
// read in gather order, each side one beat per cycle; a frame is read once it is complete and written
// again once its last beat has been read. Steady state: about max(NB, NBO) + 1 cycles per image (one cycle
// per frame hand-over in each direction, two frames). Reads are a two-stage pipeline (ROM, then buffer) that
// stalls as a whole with the output. AXI-stream valid/ready.
module qvit_stream_layout #(
	parameter int PE = 1,
	parameter int NB = 1,            // input beats per image
	parameter int NBO = NB,          // output beats per image
	parameter int EBITS = 8,         // element width
	parameter int MODE = 1,
	parameter ROM_FILE = "",         // NBO lines of RW-bit hex (modes 1, 2)
	parameter int BLOCK = 0,         // the buffers in block RAM (1) or in distributed RAM (0)
	parameter int ROM_BLOCK = 0,     // the gather ROM in block RAM (1) or in LUTs (0)
	parameter int IN_W = 8,          // padded stream widths
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
	localparam int BW = PE * EBITS;
	localparam int BAW = NB > 1 ? $clog2(NB) : 1;        // input beat address
	localparam int OAW = NBO > 1 ? $clog2(NBO) : 1;      // output beat counter
	localparam int LW = PE > 1 ? $clog2(PE) : 1;         // element within a beat
	localparam int EW = BAW + LW;                        // mode 2 ROM field per lane: {beat, element}
	localparam int RW = MODE == 2 ? PE * EW : BAW;
	localparam int MAW = $clog2(2 * NB);                 // buffer address: frame * NB + beat

	wire [BW-1:0] x = in0_V_TDATA[BW-1:0];
	wire adv = !out0_V_TVALID || out0_V_TREADY;

	if (MODE == 0) begin : pass
		assign in0_V_TREADY = adv;
		always_ff @(posedge ap_clk) begin
			if (!ap_rst_n) begin
				out0_V_TVALID <= 1'b0;
				out0_V_TDATA <= '0;
			end else begin
				if (out0_V_TREADY) out0_V_TVALID <= 1'b0;
				if (in0_V_TVALID && in0_V_TREADY) begin
					out0_V_TVALID <= 1'b1;
					out0_V_TDATA <= OUT_W'(x);
				end
			end
		end
	end else begin : reorder
		// write side: frame wf, beat wb; a frame is full from its last write until its last read
		logic [1:0] full;
		logic wf;
		logic [BAW-1:0] wb;
		assign in0_V_TREADY = !full[wf];
		wire wr = in0_V_TVALID && in0_V_TREADY;
		wire [MAW-1:0] waddr = wf ? MAW'(NB) + MAW'(wb) : MAW'(wb);

		// read side: issue (frame rf, output beat rb) -> stage 1 (ROM word a1) -> stage 2 (the output)
		logic rf;
		logic [OAW-1:0] rb;
		logic v1, f1, last1;
		logic [RW-1:0] a1;
		wire issue = adv && full[rf];
		wire rb_last = int'(rb) == NBO - 1;
		wire release_frame = adv && v1 && last1;   // the frame's last read is captured now

		always_ff @(posedge ap_clk) begin
			if (!ap_rst_n) begin
				full <= '0;
				wf <= 1'b0;
				wb <= '0;
				rf <= 1'b0;
				rb <= '0;
				v1 <= 1'b0;
				f1 <= 1'b0;
				last1 <= 1'b0;
				out0_V_TVALID <= 1'b0;
			end else begin
				if (wr) begin
					if (int'(wb) == NB - 1) begin
						wb <= '0;
						wf <= !wf;
						full[wf] <= 1'b1;
					end else begin
						wb <= wb + 1'b1;
					end
				end
				if (release_frame) full[f1] <= 1'b0;
				if (adv) begin
					v1 <= full[rf];
					f1 <= rf;
					last1 <= rb_last;
					out0_V_TVALID <= v1;
				end
				if (issue) begin
					rb <= rb_last ? '0 : rb + 1'b1;
					if (rb_last) rf <= !rf;
				end
			end
		end
		// the gather ROM where the layer's memory decision put it (ROM_BLOCK), read synchronously
		if (ROM_BLOCK != 0) begin : g_rom_block
			(* rom_style = "block" *) logic [RW-1:0] rom [NBO];
			initial $readmemh(ROM_FILE, rom);
			always_ff @(posedge ap_clk) if (adv) a1 <= rom[rb];
		end else begin : g_rom_distributed
`ifdef YOSYS  // yosys names LUT ROMs "logic"
			(* rom_style = "logic" *) logic [RW-1:0] rom [NBO];
`else
			(* rom_style = "distributed" *) logic [RW-1:0] rom [NBO];
`endif
			initial $readmemh(ROM_FILE, rom);
			always_ff @(posedge ap_clk) if (adv) a1 <= rom[rb];
		end

		if (MODE == 1) begin : beats
			logic [BW-1:0] d2;
			qvit_stream_layout_buffer #(.W(BW), .DEPTH(2 * NB), .AW(MAW), .BLOCK(BLOCK)) buffer (.clk(ap_clk),
				.we(wr), .waddr, .wdata(x), .re(adv), .raddr(f1 ? MAW'(NB) + MAW'(a1) : MAW'(a1)), .rdata(d2));
			assign out0_V_TDATA = OUT_W'(d2);
		end else begin : elements
			logic [BW-1:0] y;
			for (genvar p = 0; p < PE; p++) begin : lane
				logic [BW-1:0] d2;
				logic [LW-1:0] e2;
				wire [BAW-1:0] beat = a1[p*EW + LW +: BAW];
				// this lane's copy of the buffer
				qvit_stream_layout_buffer #(.W(BW), .DEPTH(2 * NB), .AW(MAW), .BLOCK(BLOCK)) buffer (.clk(ap_clk),
					.we(wr), .waddr, .wdata(x), .re(adv), .raddr(f1 ? MAW'(NB) + MAW'(beat) : MAW'(beat)), .rdata(d2));
				always_ff @(posedge ap_clk) if (adv) e2 <= a1[p*EW +: LW];
				assign y[p*EBITS +: EBITS] = d2[int'(e2)*EBITS +: EBITS];
			end
			assign out0_V_TDATA = OUT_W'(y);
		end
	end
endmodule


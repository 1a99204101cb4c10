package bench

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// CheckPlotPath reports whether Plot can write path (by its extension).
func CheckPlotPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".png":
		return nil
	}
	return fmt.Errorf("bench: plot file %q: want .svg or .png", path)
}

var protoColor = map[string]color.Color{
	ProtoTCPBlock:     color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff},
	ProtoCompact:      color.RGBA{R: 0xe6, G: 0x7e, B: 0x22, A: 0xff},
	ProtoBlocktorrent: color.RGBA{R: 0x1f, G: 0x6f, B: 0xd0, A: 0xff},
}

var limitColor = color.RGBA{R: 0x2e, G: 0x9e, B: 0x4f, A: 0xff}

// Plot draws one file with a row of two panels per scenario: on the left
// the CDF of the receivers' arrival times for every protocol, with the
// scenario's limit (the farthest node's) as a vertical line; on the right
// the per-node timeline, each receiver's arrival time under every protocol,
// receivers ordered by their own physical limit (drawn as a dashed line).
func Plot(path string, rs []ScenarioResult) error {
	if err := CheckPlotPath(path); err != nil {
		return err
	}
	// sync8 has no per-node arrivals to draw; its figures are in the table.
	var relay []ScenarioResult
	for _, r := range rs {
		if r.Sync == nil {
			relay = append(relay, r)
		}
	}
	rs = relay
	if len(rs) == 0 {
		return errors.New("bench: nothing to plot")
	}
	w := 11 * vg.Inch
	h := vg.Length(len(rs)) * 3.4 * vg.Inch
	var c vg.CanvasWriterTo
	if strings.ToLower(filepath.Ext(path)) == ".png" {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
	} else {
		c = vgsvg.New(w, h)
	}
	plots := make([][]*plot.Plot, len(rs))
	for i := range rs {
		cdf, err := cdfPlot(&rs[i])
		if err != nil {
			return err
		}
		tl, err := timelinePlot(&rs[i])
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{cdf, tl}
	}
	tiles := draw.Tiles{
		Rows: len(rs), Cols: 2,
		PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(8),
		PadX: vg.Points(36), PadY: vg.Points(36),
	}
	canvases := plot.Align(plots, tiles, draw.New(c))
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func receiverArrivals(pr *ProtocolResult) []float64 {
	var out []float64
	for _, n := range pr.Nodes {
		if !n.Source && n.Exact && n.Arrival >= 0 {
			out = append(out, ms(n.Arrival))
		}
	}
	slices.Sort(out)
	return out
}

func cdfPlot(r *ScenarioResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: arrival-time CDF (%.2f MB, %d txs)", r.Scenario, float64(r.BlockBytes)/1e6, r.Txs)
	p.X.Label.Text = "ms after the block was submitted"
	p.Y.Label.Text = "fraction of receivers with the block"
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Min = 0
	p.Legend.Top = false
	p.Legend.Left = false
	receivers := max(1, len(r.Limits)-len(r.Sources))
	xmax := r.LimitMs
	for k := range r.Results {
		pr := &r.Results[k]
		arr := receiverArrivals(pr)
		pts := plotter.XYs{{X: 0, Y: 0}}
		for i, a := range arr {
			pts = append(pts, plotter.XY{X: a, Y: float64(i) / float64(receivers)}, plotter.XY{X: a, Y: float64(i+1) / float64(receivers)})
			xmax = max(xmax, a)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = protoColor[pr.Protocol]
		l.Width = vg.Points(1.8)
		p.Add(l)
		p.Legend.Add(pr.Protocol, l)
	}
	lim, err := plotter.NewLine(plotter.XYs{{X: r.LimitMs, Y: 0}, {X: r.LimitMs, Y: 1}})
	if err != nil {
		return nil, err
	}
	lim.Color = limitColor
	lim.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(lim)
	p.Legend.Add(fmt.Sprintf("limit %.0f ms", r.LimitMs), lim)
	p.X.Max = xmax * 1.05
	p.X.Tick.Marker = msTicks{}
	p.Add(plotter.NewGrid())
	return p, nil
}

func timelinePlot(r *ScenarioResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: when each receiver had the whole block", r.Scenario)
	p.X.Label.Text = "receivers, ordered by their physical limit"
	p.Y.Label.Text = "ms after submission"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	var order []int
	for i := range r.Limits {
		if !slices.Contains(r.Sources, i) {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if r.Limits[a] != r.Limits[b] {
			if r.Limits[a] < r.Limits[b] {
				return -1
			}
			return 1
		}
		return a - b
	})
	rank := make(map[int]int)
	var limPts plotter.XYs
	for k, i := range order {
		rank[i] = k + 1
		limPts = append(limPts, plotter.XY{X: float64(k + 1), Y: ms(r.Limits[i])})
	}
	for k := range r.Results {
		pr := &r.Results[k]
		var pts plotter.XYs
		for _, n := range pr.Nodes {
			if !n.Source && n.Exact && n.Arrival >= 0 {
				pts = append(pts, plotter.XY{X: float64(rank[n.Node]), Y: ms(n.Arrival)})
			}
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color = protoColor[pr.Protocol]
		l.Width = vg.Points(1.2)
		s.Color = protoColor[pr.Protocol]
		s.Shape = draw.CircleGlyph{}
		s.Radius = vg.Points(2.2)
		p.Add(l, s)
		p.Legend.Add(pr.Protocol, l, s)
	}
	if len(limPts) > 0 {
		l, s, err := plotter.NewLinePoints(limPts)
		if err != nil {
			return nil, err
		}
		l.Color = limitColor
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Width = vg.Points(1.2)
		s.Color = limitColor
		s.Shape = draw.PlusGlyph{}
		s.Radius = vg.Points(3)
		p.Add(l, s)
		p.Legend.Add("physical limit", l, s)
	}
	p.X.Min, p.X.Max = 0.5, float64(len(order))+0.5
	p.X.Tick.Marker = intTicks{}
	p.Y.Tick.Marker = msTicks{}
	p.Add(plotter.NewGrid())
	return p, nil
}

// msTicks are gonum's default ticks labelled without trailing zeros.
type msTicks struct{}

func (msTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

// intTicks labels whole numbers only.
type intTicks struct{}

func (intTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	step := 1
	if n := max - min; n > 12 {
		step = int(n/10) + 1
	}
	for v := 1; float64(v) <= max; v += step {
		if float64(v) >= min {
			out = append(out, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
		}
	}
	return out
}

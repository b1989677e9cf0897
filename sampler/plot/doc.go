// Package plot writes small, dependency-free SVG figures for the sampler
// reports: line charts with linear or logarithmic axes (LineChart), 2-D
// scatter plots over an optional grey reference cloud (Scatter), and pages
// of small multiples (Grid).
//
// Figures use a fixed colour-blind-safe palette (Okabe and Ito, "Color
// Universal Design", 2008) and one marker shape per series, so series stay
// apart in greyscale print too. Linear axes get 1-2-5 "nice" ticks
// (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990); log axes
// get major ticks at powers of ten and minor ticks at 2..9 times them.
// Points that cannot be drawn (NaN, ±Inf, or ≤ 0 on a log axis, or outside
// a fixed Scatter range) are skipped and counted in a small note under the
// plot, never silently dropped. All text is XML-escaped.
//
// The output is plain SVG 1.1 that browsers and rsvg-convert render; every
// drawn element carries a class (series, marker, point, ref, tick, ...) so
// tests can count them with encoding/xml.
//
// Package plot imports only the standard library.
package plot

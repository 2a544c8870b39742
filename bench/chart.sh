#!/usr/bin/env bash
# Draws bench/compare.sh's ratios to native as a grouped bar chart (SVG) with gnuplot.
#   chart.sh DATA OUT.svg [SUBTITLE]
# DATA: one line per model and test: "label apir rpc vtest" (ratios; 0 = not measured).
set -euo pipefail
data=$1 out=$2 sub=${3:-}
gnuplot <<GP
set terminal svg size 720,400 dynamic enhanced font "sans,12" background rgb "white"
set output "$out"
set title "Speed relative to native llama.cpp (1.0 = native)\n{/*0.8 $sub}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set yrange [0:1.2]
set ytics 0.2
set grid ytics
set key outside bottom center horizontal
set ylabel "tokens/s ÷ native"
plot "$data" using 2:xtic(1) title "ggml-apir (socket)" lc rgb "#1b9e77", \
     "" using 4 title "ggml-apir (vtest)" lc rgb "#7570b3", \
     "" using 3 title "ggml-rpc" lc rgb "#d95f02", \
     1 notitle with lines lc rgb "black" dt 2
GP

"""The demo API: a small Taobao-like shop API that leaks what shield is built to hide."""

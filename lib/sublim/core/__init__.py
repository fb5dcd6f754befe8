"""What every experiment shares and that knows no experiment: params sections, atomic io, runtime, stats, plots."""

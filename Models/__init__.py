"""Models and distillation methods: BPR-MF, Distillation Experts (DE), Relaxed Ranking Distillation (RRD)."""

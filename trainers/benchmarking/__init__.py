"""What `theseus-tf benchmark` measures: the model variants (`models`), their
exports and inference timing (`inference`, `formats`), training-step cost
(`training`), dev scores (`scores`), the report (`report`); `runner` runs all."""

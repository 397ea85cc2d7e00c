"""Models bundled with vae-edge; `default/` is what `--model` means when it is not given."""

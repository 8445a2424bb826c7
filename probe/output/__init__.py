"""What a run leaves behind: the evidence document, packs and their signatures, exit codes, the terminal view."""

#!/usr/bin/env bash
# Regenerates resources/weights/MODEL_CARD_film.md from the film weights, their _cv.json and the
# kept ablation rows beside this script; the decisions (one per line) are in decisions-film.txt.
# Run from the repository root: bash resources/weights/ablation/make_film_card.sh
A=resources/weights/ablation
decisions=()
while IFS= read -r line; do [ -n "$line" ] && decisions+=(--decision "$line"); done < $A/decisions-film.txt
extra=()
[ -f $A/film-whole-s1.json ] && extra+=(--ablation "the same recipe with seed 1 on the same folds (film-whole-s1), marks removed=$A/film-whole-s1.json")
[ -f $A/film-whole-seeds.json ] && extra+=(--ablation "seeds 0 and 1 averaged per fold (python -m hds_core.train.ensemble), marks removed=$A/film-whole-seeds.json")
OMP_NUM_THREADS=2 .venv/bin/python -m hds_core.train.model_card --weights resources/weights/hds_mammo_film.safetensors --out resources/weights/MODEL_CARD_film.md \
 --role "The weights that serve digitised films (one model per domain: digital images are served by hds_mammo, whose card is MODEL_CARD.md)" \
 --trained-on "screen-film mammograms only (the mini-MIAS films; the folds are drawn over both datasets, so it holds out the same patients as the digital model)" \
 --ensemble "${FILM_ENSEMBLE:-not an ensemble: the film flipped top to bottom gave no gain out of fold, and two seeds averaged matched this seed and beat the other (ablation below), shipped once the final fit of the second seed exists}" \
 --hardware "a 2-core AMD EPYC with native bf16, torch 2.13.0 CPU; training in bf16 autocast (each epoch's metrics.jsonl says so). The folds one at a time, one thread, beside other work: 24.4-27.1 min per fold (the sum of each fold's per-epoch seconds, validation included); the shipped model, on all 236 development films with --no-validation, 23.3 min. No GPU produced these weights or figures." \
 --ablation "the same films-only model, no marks removed (runs/ab/film-whole)=$A/film-whole.json" \
 --ablation "each fold model also on the film flipped top to bottom, maps and scores averaged (no marks removed)=$A/film-whole-flip.json" \
 "${extra[@]}" \
 "${decisions[@]}" "$@"

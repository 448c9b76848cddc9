#!/usr/bin/env bash
# Regenerates resources/weights/MODEL_CARD.md from the shipped weights, their _cv.json and the
# kept ablation rows beside this script; the decisions (one per line) are in decisions.txt.
# Run from the repository root: bash resources/weights/ablation/make_card.sh
A=resources/weights/ablation
decisions=()
while IFS= read -r line; do [ -n "$line" ] && decisions+=(--decision "$line"); done < $A/decisions.txt
extra=()
[ -f $A/digital.json ] && extra+=(--ablation "one model per domain: digital only (--train-on the digital set; folds 0, 1)=$A/digital.json")
OMP_NUM_THREADS=2 .venv/bin/python -m hds_core.train.model_card --weights resources/weights/hds_mammo.safetensors --out resources/weights/MODEL_CARD.md \
 --role "The weights that serve digital images (one model per domain since issue 38: digitised films are served by hds_mammo_film, whose card is MODEL_CARD_film.md; weights given with --weights serve every image)" \
 --hardware "a 2-core AMD EPYC virtual machine without a GPU and without native bf16 (so fp32 training), torch 2.13.0 CPU. The folds trained two at a time with one thread each: 17.8-18.8 min per fold for 12 epochs of 200 whole-breast crops plus the validation of about 100 whole images per epoch (the sum of each fold's per-epoch seconds in its metrics.jsonl); the shipped model 15.8 min, beside fold 4. The ablation runs below came later, on a 2-core AMD EPYC with native bf16, where --precision auto trains in bf16 autocast (each epoch's metrics.jsonl record now says which): 12.5-12.9 min per fold when two shared the two cores (the recipe's folds 0-1, ds-seg), 15.7-24.4 min when three did (the recipe's folds 2-4, films only). No GPU produced any of these weights or figures." \
 --ablation "the shipped recipe trained again (same options and folds; bf16 autocast, see Hardware)=$A/recipe-again.json" \
 --ablation "the same run, marks outside the breast and on the MLO pectoral muscle removed (--suppress breast --suppress pectoral)=$A/recipe-again-suppressed.json" \
 --ablation "the shipped recipe trained again (bf16), folds 0, 1=$A/recipe-again-folds-0-1.json" \
 --ablation "ds-seg: deep-supervised segmentation only, no MIL heads (--mode ds-seg; bf16)=$A/dsseg.json" \
 --ablation "one model per domain: films only (--train-on the film set; bf16)=$A/film.json" \
 "${extra[@]}" \
 --ablation "128 × 128 patches instead of the whole breast (--crop 128 128; bf16; folds 0, 1)=$A/patches.json" \
 --ablation "the same network from scratch (--pretrained none; bf16; folds 0, 1)=$A/scratch.json" \
 --ablation "residual encoder from scratch, 128 × 128 patches, 20 epochs of 188 (the previous weights; input of before this issue)=$A/previous-weights.json" \
 "${decisions[@]}" "$@"

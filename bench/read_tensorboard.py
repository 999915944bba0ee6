#!/usr/bin/env python3
"""Reads a run's TensorBoard event files back with the `tensorboard` package's own reader
(the check of `gan`'s writer against TensorBoard; a dev tool, `pip install tensorboard`).

Prints, per tag, the number of points, the first and last step and the last value (for
images: their count and the last one's size), and fails when a tag repeats a step.

Run: python3 bench/read_tensorboard.py RUN_DIR [RUN_DIR ...]
"""
import os, sys
from tensorboard.backend.event_processing import event_accumulator as ea


def main():
    bad = 0
    for run in sys.argv[1:]:
        acc = ea.EventAccumulator(os.path.join(run, "tensorboard"),
                                  size_guidance={ea.SCALARS: 0, ea.IMAGES: 0})
        acc.Reload()
        tags = acc.Tags()
        print(f"{run}: {len(tags['scalars'])} scalar tags, {len(tags['images'])} image tags")
        for t in tags["scalars"]:
            ev = acc.Scalars(t)
            steps = [e.step for e in ev]
            dup = len(steps) - len(set(steps))
            bad += dup
            print(f"  {t:26s} {len(ev):6d} points, steps {steps[0]}..{steps[-1]}, "
                  f"last {ev[-1].value:.4f}" + (f"  {dup} REPEATED STEPS" if dup else ""))
        for t in tags["images"]:
            ev = acc.Images(t)
            print(f"  {t:26s} {len(ev):6d} images, last {ev[-1].width}x{ev[-1].height} "
                  f"at step {ev[-1].step} ({len(ev[-1].encoded_image_string)} bytes)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

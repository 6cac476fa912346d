"""The model card: ``model_card.json`` (machine-readable record) and ``model_card.md`` (for people)."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _calibration_lines(calibration: dict | None) -> list[str]:
    if not calibration:
        return ["- Calibration: none (raw sigmoid of the head's logit)"]
    return [
        f"- Calibration (baked into the graph): `manipulated_probability = sigmoid({calibration['scale']:.4f} * "
        f"logit + {calibration['bias']:.4f})`; {calibration['method']}. With classes weighted equally the bias "
        f"would be {calibration['balanced_bias']:.4f}; the shift corresponds to a prior of "
        f"{calibration['implied_fake_prior']:.1%} manipulated faces. Raw operating threshold "
        f"{calibration['raw_operating_threshold']:.4f} (target FPR {calibration['target_fpr']:.0%} on validation "
        f"reals); the balanced-accuracy (Youden) point would be {calibration['youden_threshold_calibrated']:.3f} "
        f"calibrated. ECE on validation (equal priors): "
        f"{_fmt(calibration.get('validation_balanced_probabilities_ece'))}; on test at the shifted prior: "
        f"{_fmt(calibration.get('test_ece_at_implied_prior'))}",
    ]


def render_markdown(card: dict) -> str:
    """The card as Markdown: provenance, data, split, metrics per source, threshold, caveats."""
    lines = [
        f"# Model card: {card['model_name']} version {card['version']}",
        "",
        f"- Created: {card['created']} on device `{card['training']['device']}` "
        f"({card['training']['seconds']:.0f} s including crop loading), code commit `{card['code_commit']}`",
        f"- Command: `{card['command']}`",
        f"- Data: `{card['data']['dir']}`, MANIFEST.tsv sha256 `{card['data']['manifest_sha256']}`",
        f"- Crop policy: `{card['crop_policy']['name']}` {json.dumps(card['crop_policy'])}; detector "
        f"`{card['detector']['version']}` {json.dumps(card['detector']['params'])}",
        f"- Network: {card['network']['backbone']} ({card['network']['parameters']:,} parameters), sees the "
        f"central {card['network']['input_size']} px of the crop; pretrained: {card['network']['pretrained']}",
        f"- Self-blended fakes: {'used' if card['training']['sbi_chosen'] else 'not used'} (chosen on validation)",
        f"- **Threshold: {card['threshold']:.4f}** ({card['threshold_rule']})",
        *_calibration_lines(card.get("calibration")),
        "",
        "## Split (images per source and label)",
        "",
        "| split | source | real | fake |",
        "|---|---|---|---|",
    ]
    for split, per_source in card["split"]["counts"].items():
        for source, labels in per_source.items():
            lines.append(f"| {split} | {source} | {labels.get('real', 0)} | {labels.get('fake', 0)} |")
    for name in ("test", "validation"):
        report = card["metrics"][name]
        lines += [
            "",
            f"## {name.capitalize()} split metrics (threshold {card['threshold']:.3f})",
            "",
            "| group | images | no face | AUC | accuracy | TPR | FPR | TPR at 5% FPR |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for group, m in [("overall", report["overall"]), *report["per_source"].items()]:
            lines.append(
                f"| {group} | {m['images']} | {m['no_face']} | {_fmt(m['auc'])} | {_fmt(m['accuracy'])} | "
                f"{_fmt(m['tpr'])} | {_fmt(m['fpr'])} | {_fmt(m['tpr_at_5pct_fpr'])} |"
            )
    lines += ["", "## Training history", ""]
    for variant in card["training"]["variants"]:
        lines.append(
            f"- SBI {'on' if variant['sbi'] else 'off'}, class-balanced weights "
            f"{'on' if variant.get('balance') else 'off'}: best validation AUC "
            f"{_fmt(variant['best'].get('val_auc'))} at epoch {variant['best'].get('epoch')}"
        )
        for record in variant["history"]:
            lines.append(
                f"  - epoch {record['epoch']}{' (' + record['phase'] + ')' if 'phase' in record else ''}: "
                f"loss {record['loss']}, val AUC {record['val_auc']}, per source "
                f"{record.get('val_auc_per_source', '-')}, {record['seconds']} s"
            )
    lines += [
        "",
        "## Intended use and limits",
        "",
        "Scores one face crop made by the crop policy above. An image's score is its most manipulated face.",
        "Trained on the faces of four research datasets; expect lower accuracy on other manipulation methods,",
        "heavy compression, very small faces and other crop policies. `wild_press_photos` and `wild_group_photos` are",
        "test-only: their FPR is the out-of-domain false-positive check. See the per-source rows before trusting",
        "the overall AUC.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(version_dir: Path, card: dict) -> None:
    """Write ``model_card.json`` and ``model_card.md`` into the version directory."""
    version_dir = Path(version_dir)
    (version_dir / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    (version_dir / "model_card.md").write_text(render_markdown(card))

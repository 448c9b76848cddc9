"""Dataset adapters on tiny fixtures in each native layout; folds; preprocessing; sampling."""

import plistlib

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import phantom, write_dicom

from hds_core.data import (
    BalancedCropDataset,
    DatasetLayoutError,
    load_dataset,
    patient_folds,
    prepare,
    split_cases,
)
from hds_core.network_input import preprocess

INFO = """              MAMMOGRAPHIC IMAGE ANALYSIS SOCIETY
                  MiniMammographic Database
header text that is not a row
mdb001 G CIRC B 535 425 197
mdb002 G CIRC B 100 900 20
mdb002 G SPIC M 800 100 30
mdb003 D NORM
mdb004 F CALC B
mdb005 F CALC M 300 300 10
mdb099 F NORM
"""


@pytest.fixture
def minimias(tmp_path):
    root = tmp_path / "mias"
    root.mkdir()
    (root / "Info.txt").write_text(INFO)
    film = np.zeros((1024, 1024), np.uint8)
    film[:, :600] = 120
    for i in range(1, 6):
        suffix = ".pgm" if i % 2 else ".png"  # the adapter takes both
        Image.fromarray(film).save(root / f"mdb{i:03d}{suffix}")
    return root


def test_minimias_rows_origin_patients_and_labels(minimias):
    cases = {c.case_id: c for c in load_dataset(f"minimias:{minimias}")}
    assert set(cases) == {"mdb001", "mdb002", "mdb003", "mdb004", "mdb005"}  # mdb099 has no film
    assert cases["mdb001"].patient_id == cases["mdb002"].patient_id != cases["mdb003"].patient_id
    assert cases["mdb001"].laterality == "R" and cases["mdb002"].laterality == "L"
    # Bottom-left origin: y = 900 is row 124.
    assert (124.0, 100.0, 20.0) in cases["mdb002"].circles and len(cases["mdb002"].circles) == 2
    assert cases["mdb001"].has_mass and not cases["mdb003"].has_mass
    assert not cases["mdb004"].has_mass and not cases["mdb005"].has_mass  # calcifications are not masses
    mask = cases["mdb002"].mass_mask((1024, 1024))
    assert mask[124, 100] and not mask[900, 100]
    assert cases["mdb001"].spacing_mm == 0.2


def test_minimias_missing_info(tmp_path):
    with pytest.raises(DatasetLayoutError, match="Info.txt"):
        load_dataset(f"minimias:{tmp_path}")


def test_inbreast_layout(tmp_path):
    root = tmp_path / "INbreast"
    (root / "AllDICOMs").mkdir(parents=True)
    (root / "AllXML").mkdir()
    pixels, _ = phantom((128, 96))
    write_dicom(
        root / "AllDICOMs" / "20586908_6c613a14b80a8591_MG_R_CC_ANON.dcm", pixels, ImagerPixelSpacing=[0.07, 0.07]
    )
    write_dicom(
        root / "AllDICOMs" / "20586934_6c613a14b80a8591_MG_L_CC_ANON.dcm", pixels, ImagerPixelSpacing=[0.07, 0.07]
    )
    roi = {"Name": "Mass", "Point_px": ["(10.0, 20.0)", "(40.0, 20.0)", "(40.0, 50.0)", "(10.0, 50.0)"]}
    calc = {"Name": "Calcification", "Point_px": ["(60.0, 60.0)"]}
    with open(root / "AllXML" / "20586908.xml", "wb") as handle:
        plistlib.dump({"Images": [{"ROIs": [roi, calc]}]}, handle)
    (root / "INbreast.csv").write_text(
        "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads\n"
        "removed;removed;R;CC;201001;20586908;2;4\nremoved;removed;L;CC;201001;20586934;2;1\n"
    )
    cases = {c.case_id: c for c in load_dataset(f"inbreast:{root}")}
    assert cases["20586908"].has_mass and not cases["20586934"].has_mass
    assert cases["20586908"].patient_id == cases["20586934"].patient_id
    assert cases["20586908"].extra["birads"] == "4" and cases["20586908"].view == "CC"
    mask = cases["20586908"].mass_mask((128, 96))
    assert mask[30, 25] and not mask[60, 60] and mask.sum() > 500
    prepared = prepare(cases["20586908"], 0.4)
    assert prepared.label == 1 and prepared.working.geometry.spacing_assumed is False


def test_folder_layout_and_unknown_kind(phantom_dataset):
    cases = load_dataset(f"folder:{phantom_dataset}")
    assert len(cases) == 8 and sum(c.has_mass for c in cases) == 4
    assert cases[0].patient_id == cases[1].patient_id == "p0" and cases[0].spacing_mm == 0.4
    with pytest.raises(DatasetLayoutError, match="KIND:PATH"):
        load_dataset(f"kaggle:{phantom_dataset}")


def test_patient_folds_never_split_a_patient_and_spread_masses(phantom_dataset):
    cases = load_dataset(f"folder:{phantom_dataset}")
    assignment = patient_folds(cases, folds=2, seed=3)
    for fold in range(2):
        train, val = split_cases(cases, folds=2, fold=fold, seed=3)
        assert not {c.patient_id for c in train} & {c.patient_id for c in val}
        assert len(train) + len(val) == len(cases)
    assert set(assignment.values()) == {0, 1}
    train, val = split_cases(cases, exclude_patients={"p0"}, val_patients={"p1"})
    assert {c.patient_id for c in val} == {"p1"} and "p0" not in {c.patient_id for c in train}


def test_preprocess_resamples_crops_and_puts_the_chest_wall_left():
    left, _ = phantom((400, 300), chest_wall="left", seed=4)
    right, _ = phantom((400, 300), chest_wall="right", seed=4)
    a = preprocess(left / 4095.0, (0.1, 0.1), working_spacing_mm=0.4)
    b = preprocess(right / 4095.0, (0.1, 0.1), working_spacing_mm=0.4)
    assert not a.geometry.flipped and b.geometry.flipped
    assert a.image.shape[0] <= 100 and abs(a.image.shape[0] - b.image.shape[0]) <= 1
    breast = a.image[a.breast]
    assert abs(breast.mean()) < 1e-3 and abs(breast.std() - 1) < 1e-2
    assert preprocess(left / 4095.0, None, working_spacing_mm=0.4).geometry.spacing_assumed


def test_geometry_round_trip_of_a_mask():
    pixels, mask = phantom((400, 300), chest_wall="right", seed=5)
    working = preprocess(pixels / 4095.0, (0.1, 0.1), working_spacing_mm=0.4)
    small = working.geometry.mask_to_working(mask)
    back = working.geometry.to_original(small.astype(np.float32)) >= 0.5
    overlap = (back & mask).sum() / (back | mask).sum()
    assert overlap > 0.85
    rows, cols = np.nonzero(small)
    centre = working.geometry.working_to_original(np.array([[rows.mean(), cols.mean()]]))[0]
    true = np.argwhere(mask).mean(axis=0)
    assert np.abs(centre - true).max() < 4


def test_balanced_sampling_is_deterministic_and_forces_mass_pixels(phantom_dataset):
    prepared = [prepare(c, 0.4) for c in load_dataset(f"folder:{phantom_dataset}")]
    dataset = BalancedCropDataset(
        prepared, crop=(64, 64), samples_per_epoch=40, positive_fraction=1.0, min_mass_pixels=100, seed=1
    )
    for i in range(10):
        image, mask, label = dataset[i]
        assert image.shape == (1, 64, 64) and mask.shape == (64, 64)
        assert int(mask.sum()) >= 100 and int(label) == 1
    again = BalancedCropDataset(prepared, crop=(64, 64), samples_per_epoch=40, seed=1)
    first = [again[i][0] for i in range(3)]
    again.set_epoch(0)
    assert all((a == again[i][0]).all() for i, a in enumerate(first))
    again.set_epoch(1)
    assert any((a != again[i][0]).any() for i, a in enumerate(first))
    mixed = BalancedCropDataset(prepared, crop=(160, 160), samples_per_epoch=40, positive_fraction=0.5, seed=2)
    labels = [int(mixed[i][2]) for i in range(40)]
    assert 0 < sum(labels) < 40
    assert mixed[0][0].shape == (1, 160, 160)  # images smaller than the crop are padded


@pytest.mark.parametrize("wall", ["left", "right"])
def test_chest_wall_found_on_padded_films(wall):
    """Film scans (mini-MIAS) are padded with black: the breast touches neither image edge."""
    from hds_core.io import breast_mask, chest_wall_on_right

    pixels, _ = phantom((300, 200), chest_wall=wall, seed=9)
    film = np.zeros((400, 400), dtype=np.uint16)
    film[50:350, 100:300] = pixels
    assert chest_wall_on_right(breast_mask(film / 4095.0)) == (wall == "right")
    assert preprocess(film / 4095.0, (0.2, 0.2), working_spacing_mm=0.4).geometry.flipped == (wall == "right")


def test_folder_reads_jpeg_images_and_masks_binarised_at_half_their_range(tmp_path):
    from PIL import Image

    from hds_core.data.registry import load_dataset
    from hds_core.io import read_image

    root = tmp_path / "digital"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    pixels, mask = phantom((128, 96), seed=50, bits=8)
    Image.fromarray(pixels.astype(np.uint8)).save(root / "images" / "P1_R_DM_CC.jpg", quality=90)
    # A JPEG mask: lossy edges put values between 0 and 255 around the outline.
    Image.fromarray((mask * 255).astype(np.uint8)).save(root / "masks" / "P1_R_DM_CC.jpg", quality=75)
    # A 16-bit PNG mask: lesion above 32767, so a faint 1000 is background.
    Image.fromarray(np.where(mask, 65535, 1000).astype(np.uint16)).save(root / "images" / "P2_L_DM_MLO.png")
    Image.fromarray(np.where(mask, 65535, 1000).astype(np.uint16)).save(root / "masks" / "P2_L_DM_MLO.png")
    (root / "annotations.csv").write_text(
        "image,side,view,findings\nP1_R_DM_CC,R,CC,Mass\nP2_L_DM_MLO,L,MLO,Mass|Calcification\n"
    )
    assert read_image(root / "images" / "P1_R_DM_CC.jpg").metadata.file_format == "JPEG"
    cases = {c.case_id: c for c in load_dataset(f"folder:{root}")}
    assert set(cases) == {"P1_R_DM_CC", "P2_L_DM_MLO"} and all(c.has_mass for c in cases.values())
    jpeg = cases["P1_R_DM_CC"]
    assert jpeg.laterality == "R" and jpeg.view == "CC" and jpeg.extra["annotations"]["findings"] == "Mass"
    assert jpeg.dataset == f"folder:{root}"
    found = jpeg.mass_mask((128, 96))
    assert (found != mask).sum() < 0.05 * mask.sum()  # half range keeps the lossy edge where it was
    np.testing.assert_array_equal(cases["P2_L_DM_MLO"].mass_mask((128, 96)), mask)
    # A mask of another size is a typed error naming the file.
    Image.fromarray((mask * 255).astype(np.uint8)[:64]).save(root / "masks" / "P1_R_DM_CC.jpg")
    with pytest.raises(DatasetLayoutError, match="P1_R_DM_CC.jpg: the mask is 96x64 pixels, its image 96x128"):
        cases["P1_R_DM_CC"].mass_mask((128, 96))


def _two_domains(tmp_path):
    """A film-like dataset with normals and masses, and a digital-like one whose every image
    holds a lesion (the CDD-CESM situation), prepared as training sees them."""
    from synthetic import phantom_folder_dataset

    from hds_core.data.cases import prepare
    from hds_core.data.registry import load_dataset

    films = phantom_folder_dataset(tmp_path / "films", n_images=8, seed=60)
    digital = phantom_folder_dataset(tmp_path / "digital", n_images=8, seed=70)
    for mask in (digital / "masks").iterdir():
        mask.unlink()
    for image in (digital / "images").iterdir():  # a lesion on every image
        _, mask = phantom((128, 128), seed=int(image.stem[2:]) + 70, mass=True)
        Image.fromarray((mask * 255).astype(np.uint8)).save(digital / "masks" / image.name)
    return [prepare(c, 0.4) for c in load_dataset(f"folder:{films}") + load_dataset(f"folder:{digital}")]


def test_balancing_within_each_dataset_makes_the_crop_label_independent_of_the_dataset(tmp_path):
    prepared = _two_domains(tmp_path)

    def label_rate(balance):
        sampler = BalancedCropDataset(prepared, crop=(32, 32), samples_per_epoch=800, seed=3, balance=balance)
        rates = {}
        for index in range(len(sampler)):
            rng = sampler._rng(index)
            # The dataset of the crop is the case's; recover it by drawing the same case.
            _, _, label = sampler[index]
            case = None
            if balance == "dataset":
                case, _, _ = sampler._within_dataset(rng)
            rates.setdefault(case.case.dataset if case else None, []).append(int(label))
        return {k: float(np.mean(v)) for k, v in rates.items()}

    balanced = label_rate("dataset")
    assert len(balanced) == 2
    # Each dataset gives lesion crops at the same rate (0.5 +- 4 binomial sd for ~400 crops).
    assert all(abs(rate - 0.5) < 0.1 for rate in balanced.values()), balanced
    assert abs(list(balanced.values())[0] - list(balanced.values())[1]) < 0.12, balanced


def test_the_papers_sampling_lets_the_label_tell_the_datasets_apart(tmp_path):
    """The check above can fail: under the paper's image-level sampling the all-lesion dataset
    gives far more lesion crops than the one with normals."""
    prepared = _two_domains(tmp_path)
    sampler = BalancedCropDataset(prepared, crop=(32, 32), samples_per_epoch=800, seed=3, balance="image")
    by_dataset: dict[str, list[int]] = {}
    for index in range(len(sampler)):
        rng = sampler._rng(index)
        forced = rng.random() < sampler.positive_fraction
        case = (
            sampler.cases[rng.choice(sampler.positive_cases)]
            if forced
            else sampler.cases[rng.integers(len(sampler.cases))]
        )
        by_dataset.setdefault(case.case.dataset, []).append(int(sampler[index][2]))
    films, digital = (float(np.mean(v)) for v in by_dataset.values())
    assert digital - films > 0.15, (films, digital)


def test_augmentation_moves_image_and_mask_together_and_is_reproducible(phantom_dataset):
    prepared = [prepare(c, 0.4) for c in load_dataset(f"folder:{phantom_dataset}")]
    plain = BalancedCropDataset(prepared, crop=(64, 64), samples_per_epoch=40, seed=5, flips=False)
    augmented = BalancedCropDataset(prepared, crop=(64, 64), samples_per_epoch=40, seed=5, flips=False, augment=True)
    changed = 0
    for index in range(40):
        image, mask, label = augmented[index]
        again = augmented[index]
        assert torch.equal(image, again[0]) and torch.equal(mask, again[1])  # the same crop every time it is asked for
        assert image.shape == (1, 64, 64) and mask.shape == (64, 64) and int(label) == int(mask.any())
        changed += not torch.equal(image, plain[index][0])
        if mask.any() and (~mask.bool()).any():
            # The phantom's mass is brighter than the tissue around it: after the same warp
            # for both, the mask still sits on the bright pixels.
            inside, outside = image[0][mask.bool()].mean(), image[0][~mask.bool()].mean()
            assert inside > outside
    assert changed >= 35


@pytest.mark.parametrize("window", [None, (2048, 4096)])
def test_a_12_bit_digital_image_and_its_8_bit_export_give_the_same_network_input(tmp_path, window):
    """One model serves 12-bit DICOM and 8-bit exports of the same image (CDD-CESM is published
    as 8-bit JPEG): the export is the DICOM's rendering for the network rounded to 8 bits, and
    the network's input differs by about that rounding (z-scored over the breast, so the
    export's own grey range does not matter). Without a window in the file, or with one that
    does not clip; a window that clips the breast loses in the export what it clips."""
    from synthetic import write_png

    from hds_core.io import read_image
    from hds_core.network_input import working_image

    pixels, _ = phantom((320, 256), seed=11, bits=12)
    tags = {"WindowCenter": window[0], "WindowWidth": window[1]} if window else {}
    dicom = read_image(write_dicom(tmp_path / "d.dcm", pixels, ImagerPixelSpacing=[0.2, 0.2], **tags))
    rendered = dicom.model_input()
    export = read_image(write_png(tmp_path / "export.png", np.round(rendered * 255).astype(np.uint8)))
    a = working_image(dicom, (0.2, 0.2), working_spacing_mm=0.8)
    b = working_image(export, (0.2, 0.2), working_spacing_mm=0.8)
    assert a.geometry == b.geometry
    assert (a.breast != b.breast).sum() <= 0.005 * a.breast.sum()  # a few pixels on the skin line
    # Half a grey level of rounding, in units of the breast's standard deviation (z-scored);
    # resampling and the pyramid's integer steps carry it a little further at a few pixels.
    rounding = 0.5 / 255 / float(rendered[pixels > 0.1 * 4095].std())
    difference = np.abs(a.image - b.image)
    breast = a.breast & b.breast
    assert difference[breast].mean() <= 0.5 * rounding
    assert np.percentile(difference[breast], 99) <= 1.5 * rounding
    assert difference.max() <= 3 * rounding

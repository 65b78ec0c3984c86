"""Oral baclofen in children with cerebral palsy: the target range, the default model, the trial's
titration. What the generic layers take as arguments, the baclofen study (`pkmodel.study`, the
command line) takes from here.

He Y et al. (Jusko WJ), Population pharmacokinetics of oral baclofen in pediatric patients with
cerebral palsy, J Pediatr 2014;164:1181-1188.
"""

from ..dosing.regimen import Regimen

BACLOFEN_TARGET_MG_L = (0.08, 0.40)
"""Baclofen serum range, mg/L (80-400 ng/mL): a laboratory-stated range, not a validated one.

Source: NMS Labs, "Baclofen, Serum", as listed in the Ohio State University
Wexner Medical Center laboratory test catalog (test LABYBACLO): "Serum
concentrations required for therapeutic effects reportedly range from
0.08-0.40 mcg/mL". Other laboratories state other ranges (e.g. 0.10-0.60 mg/L,
medics labor, Bern). No therapeutic range has been validated in children or in
cerebral palsy: use it as a reference line, not as a dosing goal.
"""

DEFAULT_MODEL = "baclofen_cp_card"
"""The bundled model the command line runs by default (one compartment, He 2014's CL/F)."""


def trial_titration(days: float = 84, **options) -> Regimen:
    """He 2014's titration: from 2.5 mg TID, +2.5 mg/dose weekly to 2 mg/kg/day, up to 20 mg QID.

    The paper titrated over 10-12 weeks to the maximum tolerated dose, up to 20 mg QID
    (80 mg/day); its steps are not published, so the weekly +2.5 mg/dose is an assumption.
    Children whose target passes 60 mg/day move to four doses a day. `options` go to
    `Regimen.titration` (e.g. formulation="tablet", missed_dose_probability=0.1).

    Examples
    --------
    >>> trial_titration().label
    'titration 2.5 mg TID +2.5 mg/dose every 7 days to 2 mg/kg/day for 84 days, QID above 60 mg/day, max 20 mg/dose, max 80 mg/day'
    """
    return Regimen.titration(
        start_mg=2.5,
        doses_per_day=3,
        step_mg=2.5,
        step_every_days=7,
        target_mg_per_kg_day=2.0,
        days=days,
        max_mg_per_dose=20,
        max_mg_per_day=80,
        switch_to_qid_above_mg_per_day=60,
        **options,
    )

"""Hand-written reports for the story tests: two events of one kind, and others.

Two earthquakes (Chile in March, Japan a day later) share the vocabulary of every
earthquake report; what tells them apart is where, when, how strong and who spoke.
"""

from __future__ import annotations

from datetime import UTC, datetime

CHILE_AT = datetime(2024, 3, 10, 8, 0, tzinfo=UTC)
JAPAN_AT = datetime(2024, 3, 11, 2, 0, tzinfo=UTC)

CHILE = [
    (
        "Strong earthquake shakes central Chile",
        "A magnitude 6.8 earthquake struck off the coast of central Chile on Sunday, "
        "shaking buildings in Valparaiso and Santiago. The Chilean navy said there was no "
        "tsunami threat. Interior Minister Carolina Toha said two people were injured in "
        "Valparaiso when a wall collapsed. Power was cut to thousands of homes in the "
        "Valparaiso region while crews inspected the lines.",
    ),
    (
        "Chile quake injures two, no tsunami expected",
        "Two people were hurt in Valparaiso after a 6.8 magnitude quake hit central Chile, "
        "Carolina Toha told reporters in Santiago. The quake was centred at sea west of "
        "Valparaiso at a depth of 30 kilometres, the seismological centre said. The navy "
        "ruled out a tsunami. Thousands of homes in the Valparaiso region lost power.",
    ),
    (
        "Valparaiso residents flee homes after 6.8 tremor",
        "Residents of Valparaiso ran into the streets after the 6.8 earthquake on Sunday "
        "morning. Chile's interior minister Carolina Toha said the damage was limited and "
        "two people were injured. The Chilean navy issued no tsunami warning, and power "
        "was being restored to the homes in Valparaiso that lost it.",
    ),
]

JAPAN = [
    (
        "Magnitude 7.1 earthquake hits northern Japan",
        "A magnitude 7.1 earthquake struck off Hokkaido in northern Japan on Monday, the "
        "Japan Meteorological Agency said. A tsunami advisory was issued for the Pacific "
        "coast of Hokkaido and lifted two hours later. Chief Cabinet Secretary Yoshimasa "
        "Hayashi said there were no reports of deaths. Trains in Sapporo were halted.",
    ),
    (
        "Hokkaido quake halts trains, tsunami advisory lifted",
        "Bullet trains and local lines in Sapporo stopped after a 7.1 magnitude quake off "
        "Hokkaido, the Japan Meteorological Agency reported. Yoshimasa Hayashi told "
        "reporters in Tokyo that no deaths had been reported. The tsunami advisory for "
        "the Hokkaido coast was lifted after two hours.",
    ),
]

FOOTBALL = (
    "Madrid win the cup final on penalties",
    "Real Madrid beat Atletico Madrid on penalties to lift the cup on Saturday night "
    "after a goalless draw in Seville. Goalkeeper Andriy Lunin saved two spot kicks, and "
    "coach Carlo Ancelotti praised his team's spirit in extra time.",
)

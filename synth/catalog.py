"""Static vocabularies of the synthetic world: race tracks, circuits, disciplines, labels.

Codes and labels follow the real turfinfo bodies (see ../shared/pmu); the tracks are a plausible
subset, not an exhaustive list."""

from __future__ import annotations

# Horse kinds: one population per (country, kind). Trotters run ATTELE/MONTE, flat horses PLAT,
# jumpers HAIE/STEEPLECHASE/CROSS.
TROT, PLAT, OBSTACLE = "TROT", "PLAT", "OBSTACLE"

DISCIPLINES = {
    TROT: ("ATTELE", "MONTE"),
    PLAT: ("PLAT",),
    OBSTACLE: ("HAIE", "STEEPLECHASE", "CROSS"),
}
SPECIALITE = {
    "ATTELE": "TROT_ATTELE",
    "MONTE": "TROT_MONTE",
    "PLAT": "PLAT",
    "HAIE": "OBSTACLE",
    "STEEPLECHASE": "OBSTACLE",
    "CROSS": "OBSTACLE",
}
DISCIPLINE_MERE = {TROT: "TROT", PLAT: "PLAT", OBSTACLE: "OBSTACLE"}
# musique letter per discipline
MUSIQUE_LETTER = {"ATTELE": "a", "MONTE": "m", "PLAT": "p", "HAIE": "h", "STEEPLECHASE": "s", "CROSS": "c"}
ALLURE = {TROT: "TROT", PLAT: "GALOP", OBSTACLE: "GALOP"}

# Declared runners: (median, spread, min, max), after ../shared/pmu/STATS.md.
FIELD_SIZE = {
    "PLAT": (11, 3.5, 4, 20),
    "ATTELE": (14, 2.5, 6, 18),
    "MONTE": (13, 3.0, 6, 18),
    "HAIE": (12, 3.5, 5, 18),
    "STEEPLECHASE": (9, 3.0, 5, 16),
    "CROSS": (8, 2.5, 5, 14),
}
DISTANCES = {
    "ATTELE": (2100, 2150, 2175, 2200, 2650, 2700, 2850, 2875, 2950, 3000),
    "MONTE": (2175, 2200, 2650, 2700, 2850, 3000),
    "PLAT": (1000, 1200, 1300, 1400, 1500, 1600, 1800, 1900, 2000, 2100, 2400, 2500, 3000),
    "HAIE": (3300, 3400, 3500, 3600, 3800, 4000, 4300),
    "STEEPLECHASE": (3500, 3600, 3800, 4000, 4400, 5000),
    "CROSS": (4100, 4400, 4650, 5400, 5900),
}
# Median prize in euros per discipline (montantPrix is lognormal around it).
PRIZE_MEDIAN = {
    "PLAT": 16000,
    "ATTELE": 17500,
    "MONTE": 25000,
    "HAIE": 30000,
    "STEEPLECHASE": 28000,
    "CROSS": 24000,
}
# Seconds per km of a typical winner (trot: reduction kilometrique).
SECONDS_PER_KM = {
    "ATTELE": 74.0,
    "MONTE": 75.0,
    "PLAT": 61.0,
    "HAIE": 72.0,
    "STEEPLECHASE": 78.0,
    "CROSS": 84.0,
}
CATEGORIES = {
    "ATTELE": ("INCONNU", "AUTOSTART", "NATIONALE", "AMATEURS", "APPRENTIS_LADS_JOCKEYS", "EUROPEENNE"),
    "MONTE": ("INCONNU", "APPRENTIS_LADS_JOCKEYS", "EUROPEENNE"),
    "PLAT": ("HANDICAP", "COURSE_A_CONDITIONS", "HANDICAP_DIVISE", "A_RECLAMER", "GROUPE_III"),
    "HAIE": ("COURSE_A_CONDITIONS", "HANDICAP_DE_CATEGORIE", "A_RECLAMER"),
    "STEEPLECHASE": ("COURSE_A_CONDITIONS", "HANDICAP_DE_CATEGORIE", "A_RECLAMER"),
    "CROSS": ("COURSE_A_CONDITIONS",),
}

# Race tracks: (code, libelleCourt, libelleLong, name as written in past performances).
TRACKS_FR = {
    TROT: [
        ("VIN", "VINCENNES", "HIPPODROME DE PARIS-VINCENNES", "Vincennes"),
        ("ENG", "ENGHIEN", "HIPPODROME D'ENGHIEN SOISY", "Enghien"),
        ("CAE", "CAEN", "HIPPODROME DE CAEN", "Caen"),
        ("LAV", "LAVAL", "HIPPODROME DE LAVAL", "Laval"),
        ("PET", "NANTES", "HIPPODROME DE NANTES", "Nantes"),
        ("CAB", "CABOURG", "HIPPODROME DE CABOURG", "Cabourg"),
        ("MAU", "MAUQUENCHY", "HIPPODROME DE MAUQUENCHY", "Mauquenchy"),
        ("AGE", "AGEN LE PASSAGE", "HIPPODROME D'AGEN LE PASSAGE", "Agen-Le Passage"),
        ("CHT", "CHATEAUBRIANT", "HIPPODROME DE CHATEAUBRIANT", "Chateaubriant"),
        ("VIC", "VICHY", "HIPPODROME DE VICHY", "Vichy"),
    ],
    PLAT: [
        ("LON", "PARISLONGCHAMP", "HIPPODROME DE PARISLONGCHAMP", "ParisLongchamp"),
        ("CHY", "CHANTILLY", "HIPPODROME DE CHANTILLY", "Chantilly"),
        ("DEA", "DEAUVILLE", "HIPPODROME DE DEAUVILLE-LA TOUQUES", "Deauville"),
        ("STC", "SAINT-CLOUD", "HIPPODROME DE SAINT-CLOUD", "Saint-Cloud"),
        ("FON", "FONTAINEBLEAU", "HIPPODROME DE FONTAINEBLEAU", "Fontainebleau"),
        ("PON", "PONT DE VIVAUX", "HIPPODROME MARSEILLE PONT DE VIVAUX", "Marseille-Vivaux"),
        ("CSM", "CAGNES-SUR-MER", "HIPPODROME DE LA CÔTE D'AZUR", "Cagnes-sur-Mer"),
        ("LYO", "LYON-PARILLY", "HIPPODROME DE LYON-PARILLY", "Lyon-Parilly"),
        ("TOU", "TOULOUSE", "HIPPODROME DE TOULOUSE", "Toulouse"),
        ("CHL", "CHATEAUBRIANT", "HIPPODROME DE CHATEAUBRIANT", "Chateaubriant"),
    ],
    OBSTACLE: [
        ("AUT", "AUTEUIL", "HIPPODROME D'AUTEUIL", "Auteuil"),
        ("PAU", "PAU", "HIPPODROME DU PONT-LONG", "Pau"),
        ("ENS", "ENGHIEN", "HIPPODROME D'ENGHIEN SOISY", "Enghien"),
        ("CMP", "COMPIEGNE", "HIPPODROME DE COMPIEGNE", "Compiègne"),
        ("FTB", "FONTAINEBLEAU", "HIPPODROME DE FONTAINEBLEAU", "Fontainebleau"),
        ("MDM", "MESLAY DU MAINE", "HIPPODROME DE MESLAY DU MAINE", "Meslay du Maine"),
    ],
}
# Foreign circuits: (country code, country label, horse nationality, kind, track, nature, first start hh:mm)
CIRCUITS_ABROAD = [
    (
        "GBR",
        "Royaume-Uni",
        "United Kingdom",
        PLAT,
        ("KEM", "KEMPTON PARK", "HIPPODROME DE KEMPTON PARK  GB", "Kempton Park"),
        "SEMINOCTURNE",
        (17, 30),
    ),
    (
        "IRL",
        "Irlande",
        "Ireland",
        PLAT,
        ("DUN", "DUNDALK", "HIPPODROME DE DUNDALK IRLANDE", "Dundalk"),
        "NOCTURNE",
        (18, 15),
    ),
    (
        "BEL",
        "Belgique",
        "Germany",
        PLAT,
        ("HWM", "MONS (GHLIN)", "HIPPODROME DE MONS  BELGIQUE", "Mons"),
        "DIURNE",
        (10, 30),
    ),
    (
        "HKG",
        "Hong-Kong",
        "Australia",
        PLAT,
        ("HPV", "HAPPY VALLEY", "HIPPODROME DE HAPPY VALLEY HK", "Happy Valley"),
        "DIURNE",
        (11, 15),
    ),
    (
        "SWE",
        "Suède",
        "Sweden",
        TROT,
        ("SOL", "SOLVALLA", "HIPPODROME DE SOLVALLA STOCKHOLM", "Solvalla"),
        "SEMINOCTURNE",
        (17, 45),
    ),
    (
        "USA",
        "Etats-Unis",
        "United States",
        PLAT,
        ("GPK", "GULFSTREAM PARK", "HIPPODROME DE GULFSTREAM PARK USA", "Gulfstream Park"),
        "NOCTURNE",
        (18, 0),
    ),
]
# Share of French meetings per kind.
FR_KIND_SHARE = ((TROT, 0.45), (PLAT, 0.40), (OBSTACLE, 0.15))

GOINGS = (  # (penetrometre upper bound, intitule)
    (2.8, "Bon léger"),
    (3.2, "Bon"),
    (3.6, "Bon souple"),
    (3.9, "Souple"),
    (4.2, "Très souple"),
    (4.5, "Collant"),
    (5.0, "Lourd"),
    (9.9, "Très lourd"),
)
PSF_INTITULES = ("PSF STANDARD", "PSF RAPIDE", "PSF LENTE")

ROBES = (
    ("020", "BAI", "BAI"),
    ("021", "BAI F.", "BAI FONCE"),
    ("040", "GRIS", "GRIS"),
    ("010", "ALEZAN", "ALEZAN"),
    ("030", "NOIR", "NOIR"),
    ("022", "BAI BRUN", "BAI BRUN"),
)
SEXES = ("HONGRES", "FEMELLES", "MALES")
SEX_SHARE = (0.45, 0.39, 0.16)
BREED = {TROT: "TROTTEUR FRANCAIS", PLAT: "PUR-SANG", OBSTACLE: "AQPS"}
BREED_ABROAD = {TROT: "TROTTEUR ETRANGER", PLAT: "PUR-SANG", OBSTACLE: "PUR-SANG"}
AGE_RANGE = {TROT: (2, 10), PLAT: (2, 8), OBSTACLE: (3, 10)}
PEAK_AGE = {TROT: 6.0, PLAT: 4.0, OBSTACLE: 6.5}
OEILLERES = (
    "SANS_OEILLERES",
    "SANS_OEILLERES",
    "SANS_OEILLERES",
    "OEILLERES_AUSTRALIENNES",
    "OEILLERES_CLASSIQUE",
)
DEFERRE = (
    "DEFERRE_ANTERIEURS",
    "DEFERRE_POSTERIEURS",
    "DEFERRE_ANTERIEURS_POSTERIEURS",
    "PROTEGE_ANTERIEURS_DEFERRRE_POSTERIEURS",
)
METEO = (
    ("P1", "Ensoleillé", "Le soleil brillera toute la journée."),
    ("P3", "Peu Nuageux", "Quelques nuages passeront sans gêner le soleil."),
    ("P5", "Très Nuageux", "Les nuages l'emporteront et les éclaircies restront rares."),
    ("P7", "Pluie", "La pluie tombera par intermittence."),
)
WIND = ("N", "NE", "E", "SE", "S", "SO", "O", "NO")

# Margins (distanceChevalPrecedent) for galop finishers: (code, identifiant, court, long)
MARGINS = (
    (25, "UNE_TETE", "TETE", "1 tête"),
    (26, "COURTE_TETE", "COURTE TETE", "courte tête"),
    (27, "ENCOLURE", "ENC", "encolure"),
    (28, "COURTE_ENCOLURE", "CT ENC", "courte encolure"),
    (29, "DEMI_LONGUEUR", "1/2 L", "1/2 longueur"),
    (33, "TROIS_QUARTS_DE_LONGUEUR", "3/4 L", "3/4 de longueur"),
    (1, "UNE_LONGUEUR", "1 L", "1 longueur"),
    (30, "UNE_LONGUEUR_ET_DEMIE", "1 L 1/2", "1 longueur 1/2"),
    (10, "DEUX_LONGUEURS", "2 L", "2 longueurs"),
    (31, "DEUX_LONGUEURS_ET_DEMIE", "2 L 1/2", "2 longueurs 1/2"),
    (11, "TROIS_LONGUEURS", "3 L", "3 longueurs"),
    (12, "QUATRE_LONGUEURS", "4 L", "4 longueurs"),
    (14, "SIX_LONGUEURS", "6 L", "6 longueurs"),
    (40, "HUIT_LONGUEURS_ET_DEMIE", "8 L 1/2", "8 longueurs 1/2"),
)
# Name material: syllables for horses, surnames and initials for people.
SYLLABLES = (
    "KA",
    "LO",
    "MI",
    "RA",
    "TO",
    "VA",
    "NE",
    "SI",
    "DU",
    "BE",
    "GA",
    "LI",
    "MO",
    "RE",
    "TI",
    "ZA",
    "FI",
    "PA",
    "NO",
    "SA",
    "CO",
    "DA",
    "VI",
    "LU",
    "JO",
    "MA",
    "RO",
    "TE",
    "NA",
    "QUI",
    "VER",
    "BOR",
    "LAN",
    "MAR",
    "TAR",
    "DOR",
    "SEL",
    "VAL",
    "RIX",
    "LYS",
)
SUFFIXES = (
    "",
    "",
    "",
    " DU PLESSIS",
    " DE LA BRIERE",
    " DU VIVIER",
    " D'ORGERES",
    " JOLI",
    " BLUE",
    " STAR",
    " DE GUEZ",
    " DU CANET",
    " BELLO",
    " DES CHAMPS",
    " ROYAL",
    " D'AVRIL",
)
SURNAMES = (
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "RICHARD",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFEBVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
    "ROUX",
    "VINCENT",
    "FOURNIER",
    "MOREL",
    "GIRARD",
    "ANDRE",
    "MERCIER",
    "BOISNARD",
    "RAFFIN",
    "ABRIVARD",
    "NIVARD",
    "GUELPA",
    "SOUMILLON",
    "BARZALONA",
    "PESLIER",
    "DEMURO",
    "GUYON",
    "LEMAIRE",
    "BOUDOT",
    "PASQUIER",
    "HARDOUIN",
    "ROUSSEL",
    "DUVALDESTIN",
    "BAZIRE",
    "VERVA",
    "THOMAIN",
    "LEBOURGEOIS",
    "OUVRIE",
    "MOTTIER",
    "DUBOIS-JONES",
    "LHERETE",
    "ABRIVARD",
    "GOETZ",
)
INITIALS = ("J", "M", "P", "F", "E", "C", "A", "D", "Y", "G", "S", "T", "JM", "JPH", "PH", "CH", "F-X")

// Country facts (name, continent, centroid) for every ISO 3166-1 alpha-2 code, so config and geo lookups can fall back to a country's position.

import type { Continent } from './model.js';

export interface CountryInfo {
  name: string;
  continent: Continent;
  lat: number;
  lon: number;
}

/*
 * One line per country: code, continent, lat, lon, English name.
 * Continents and positions are taken from GeoLite2-City itself (the location it
 * reports for addresses known only to the country level), so a client whose
 * record lacks coordinates and a mirror configured without them land on the same
 * point. That point is MaxMind's choice: the geographic centre for some countries
 * (US, DE), the main population centre for others (FR, RU, CA). XK (Kosovo) is not
 * ISO-assigned but GeoLite2 returns it, so mirrors there must be configurable.
 */
const TABLE = `
AD EU 42.5 1.5 Andorra
AE AS 24 54 United Arab Emirates
AF AS 33 65 Afghanistan
AG NA 17.05 -61.8 Antigua and Barbuda
AI NA 18.25 -63.17 Anguilla
AL EU 41 20 Albania
AM AS 40 45 Armenia
AO AF -12.5 18.5 Angola
AQ AN -90 0 Antarctica
AR SA -34.6 -58.38 Argentina
AS OC -14.33 -170 American Samoa
AT EU 48.2 16.37 Austria
AU OC -33.49 143.21 Australia
AW NA 12.5 -69.97 Aruba
AX EU 60.12 19.9 Åland
AZ AS 40.5 47.5 Azerbaijan
BA EU 44 18 Bosnia and Herzegovina
BB NA 13.17 -59.53 Barbados
BD AS 23.7 90.37 Bangladesh
BE EU 50.85 4.34 Belgium
BF AF 13 -2 Burkina Faso
BG EU 42.7 23.33 Bulgaria
BH AS 26 50.55 Bahrain
BI AF -3.5 30 Burundi
BJ AF 9.5 2.25 Benin
BL NA 17.9 -62.83 Saint Barthélemy
BM NA 32.33 -64.75 Bermuda
BN AS 4.5 114.67 Brunei
BO SA -17 -65 Bolivia
BQ NA 12.21 -68.29 Bonaire, Sint Eustatius, and Saba
BR SA -22.83 -43.22 Brazil
BS NA 24.25 -76 Bahamas
BT AS 27.5 90.5 Bhutan
BV AN -54.43 3.4 Bouvet Island
BW AF -22 24 Botswana
BY EU 53 28 Belarus
BZ NA 17.25 -88.75 Belize
CA NA 43.63 -79.37 Canada
CC AS -12.5 96.83 Cocos (Keeling) Islands
CD AF 0 25 DR Congo
CF AF 7 21 Central African Republic
CG AF -1 15 Republic of the Congo
CH EU 47.14 8.16 Switzerland
CI AF 8 -5 Ivory Coast
CK OC -21.23 -159.77 Cook Islands
CL SA -33.44 -70.64 Chile
CM AF 6 12 Cameroon
CN AS 34.77 113.73 China
CO SA 4.6 -74.08 Colombia
CR NA 10 -84 Costa Rica
CU NA 21.5 -80 Cuba
CV AF 15.11 -23.62 Cabo Verde
CW NA 12.18 -69 Curaçao
CX OC -10.5 105.67 Christmas Island
CY EU 35 33 Cyprus
CZ EU 50.08 14.41 Czechia
DE EU 51.3 9.49 Germany
DJ AF 11.5 43 Djibouti
DK EU 55.71 12.06 Denmark
DM NA 15.42 -61.33 Dominica
DO NA 19 -70.67 Dominican Republic
DZ AF 36.76 3.15 Algeria
EC SA -2 -77.5 Ecuador
EE EU 59 26 Estonia
EG AF 30.04 31.22 Egypt
EH AF 24.5 -13 Western Sahara
ER AF 15 39 Eritrea
ES EU 40.42 -3.68 Spain
ET AF 8 38 Ethiopia
FI EU 60.17 24.93 Finland
FJ OC -18 175 Fiji
FK SA -51.75 -59 Falkland Islands
FM OC 6.92 158.25 Federated States of Micronesia
FO EU 62 -7 Faroe Islands
FR EU 48.86 2.34 France
GA AF -1 11.75 Gabon
GB EU 51.5 -0.12 United Kingdom
GD NA 12.12 -61.67 Grenada
GE AS 41.99 43.48 Georgia
GF SA 4 -53 French Guiana
GG EU 49.46 -2.57 Guernsey
GH AF 8 -2 Ghana
GI EU 36.18 -5.37 Gibraltar
GL NA 72 -40 Greenland
GM AF 13.47 -16.57 Gambia
GN AF 11 -10 Guinea
GP NA 16.25 -61.58 Guadeloupe
GQ AF 2 10 Equatorial Guinea
GR EU 37.97 23.72 Greece
GS AN -54.5 -37 South Georgia and the South Sandwich Islands
GT NA 15.5 -90.25 Guatemala
GU OC 13.47 144.78 Guam
GW AF 12 -15 Guinea-Bissau
GY SA 5 -59 Guyana
HK AS 22.25 114.17 Hong Kong
HM AN -53.1 72.52 Heard Island and McDonald Islands
HN NA 15 -86.5 Honduras
HR EU 45.17 15.5 Croatia
HT NA 19 -72.42 Haiti
HU EU 47.49 19.05 Hungary
ID AS -6.17 106.83 Indonesia
IE EU 53.35 -6.24 Ireland
IL AS 31.5 34.75 Israel
IM EU 54.23 -4.57 Isle of Man
IN AS 20.01 77.01 India
IO AS -6 71.5 British Indian Ocean Territory
IQ AS 33 44 Iraq
IR AS 35.7 51.41 Iran
IS EU 65 -18 Iceland
IT EU 43.15 12.11 Italy
JE EU 49.18 -2.1 Jersey
JM NA 18.25 -77.5 Jamaica
JO AS 31 36 Jordan
JP AS 35.69 139.69 Japan
KE AF 1 38 Kenya
KG AS 41 75 Kyrgyzstan
KH AS 13 105 Cambodia
KI OC 1.42 173 Kiribati
KM AF -12.17 44.25 Comoros
KN NA 17.33 -62.75 Saint Kitts and Nevis
KP AS 40 127 North Korea
KR AS 37.51 126.97 South Korea
KW AS 29.34 47.66 Kuwait
KY NA 19.5 -80.5 Cayman Islands
KZ AS 48 68 Kazakhstan
LA AS 18 105 Laos
LB AS 33.83 35.83 Lebanon
LC NA 13.88 -61.13 Saint Lucia
LI EU 47.17 9.53 Liechtenstein
LK AS 7 81 Sri Lanka
LR AF 6.5 -9.5 Liberia
LS AF -29.5 28.5 Lesotho
LT EU 56 24 Lithuania
LU EU 49.75 6.17 Luxembourg
LV EU 57 25 Latvia
LY AF 25 17 Libya
MA AF 32 -5 Morocco
MC EU 43.73 7.4 Monaco
MD EU 47.02 28.81 Moldova
ME EU 42 19 Montenegro
MF NA 18.07 -63.07 Saint Martin
MG AF -20 47 Madagascar
MH OC 9 168 Marshall Islands
MK EU 41.83 22 North Macedonia
ML AF 17 -4 Mali
MM AS 22 98 Myanmar
MN AS 46 105 Mongolia
MO AS 22.17 113.55 Macao
MP OC 15.2 145.75 Northern Mariana Islands
MQ NA 14.67 -61 Martinique
MR AF 20 -12 Mauritania
MS NA 16.75 -62.2 Montserrat
MT EU 35.83 14.58 Malta
MU AF -20.28 57.55 Mauritius
MV AS 3.25 73 Maldives
MW AF -13.5 34 Malawi
MX NA 19.44 -99.01 Mexico
MY AS 2.5 112.5 Malaysia
MZ AF -18.25 35 Mozambique
NA AF -22 17 Namibia
NC OC -21.5 165.5 New Caledonia
NE AF 16 8 Niger
NF OC -29.03 167.95 Norfolk Island
NG AF 10 8 Nigeria
NI NA 13 -85 Nicaragua
NL EU 52.38 4.9 Netherlands
NO EU 59.95 10.76 Norway
NP AS 28 84 Nepal
NR OC -0.53 166.92 Nauru
NU OC -19.03 -169.87 Niue
NZ OC -41 174 New Zealand
OM AS 21 57 Oman
PA NA 9 -80 Panama
PE SA -12.04 -77.03 Peru
PF OC -15 -140 French Polynesia
PG OC -6 147 Papua New Guinea
PH AS 14.6 120.97 Philippines
PK AS 30 70 Pakistan
PL EU 52.24 21.04 Poland
PM NA 46.83 -56.33 Saint Pierre and Miquelon
PN OC -25.07 -130.08 Pitcairn Islands
PR NA 18.25 -66.5 Puerto Rico
PS AS 32 35.25 Palestine
PT EU 38.71 -9.14 Portugal
PW OC 7.5 134.5 Palau
PY SA -23 -58 Paraguay
QA AS 25.5 51.25 Qatar
RE AF -21.1 55.6 Réunion
RO EU 46 25 Romania
RS EU 44 21 Serbia
RU EU 55.74 37.61 Russia
RW AF -2 30 Rwanda
SA AS 25 45 Saudi Arabia
SB OC -8 159 Solomon Islands
SC AF -4.58 55.67 Seychelles
SD AF 15 30 Sudan
SE EU 59.32 18.06 Sweden
SG AS 1.37 103.8 Singapore
SH AF -15.93 -5.7 Saint Helena
SI EU 46 15 Slovenia
SJ EU 78.64 21.99 Svalbard and Jan Mayen
SK EU 48.67 19.5 Slovakia
SL AF 8.5 -11.5 Sierra Leone
SM EU 43.93 12.47 San Marino
SN AF 14 -14 Senegal
SO AF 10 49 Somalia
SR SA 4 -56 Suriname
SS AF 4.85 31.6 South Sudan
ST AF 1 7 São Tomé and Príncipe
SV NA 13.83 -88.92 El Salvador
SX NA 18.04 -63.07 Sint Maarten
SY AS 35 38 Syria
SZ AF -26.5 31.5 Eswatini
TC NA 21.75 -71.58 Turks and Caicos Islands
TD AF 15 19 Chad
TF AN -43 67 French Southern Territories
TG AF 8 1.17 Togo
TH AS 13.74 100.46 Thailand
TJ AS 39 71 Tajikistan
TK OC -9 -172 Tokelau
TL OC -8.57 125.57 Timor-Leste
TM AS 40 60 Turkmenistan
TN AF 34 9 Tunisia
TO OC -20 -175 Tonga
TR AS 41.02 28.99 Turkey
TT NA 11 -61 Trinidad and Tobago
TV OC -8 178 Tuvalu
TW AS 23.5 121 Taiwan
TZ AF -6.82 39.29 Tanzania
UA EU 50.45 30.53 Ukraine
UG AF 1 32 Uganda
UM OC 19.28 166.6 U.S. Minor Outlying Islands
US NA 37.75 -97.82 United States
UY SA -33 -56 Uruguay
UZ AS 41 64 Uzbekistan
VA EU 41.9 12.45 Vatican City
VC NA 13.25 -61.2 Saint Vincent and the Grenadines
VE SA 8 -66 Venezuela
VG NA 18.5 -64.5 British Virgin Islands
VI NA 18.33 -64.83 U.S. Virgin Islands
VN AS 16 106 Vietnam
VU OC -16 167 Vanuatu
WF OC -13.3 -176.2 Wallis and Futuna
WS OC -13.58 -172.33 Samoa
XK EU 42.6 20.9 Kosovo
YE AS 15 48 Yemen
YT AF -12.83 45.17 Mayotte
ZA AF -29 24 South Africa
ZM AF -15 30 Zambia
ZW AF -20 30 Zimbabwe
`;

const CONTINENTS: ReadonlySet<string> = new Set<Continent>(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);

const COUNTRIES: ReadonlyMap<string, CountryInfo> = parseTable(TABLE);

function parseTable(table: string): Map<string, CountryInfo> {
  const out = new Map<string, CountryInfo>();
  for (const line of table.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([A-Z]{2}) ([A-Z]{2}) (-?[\d.]+) (-?[\d.]+) (.+)$/.exec(line);
    // A malformed line is a bug in this file: fail at load, not on some request.
    if (!m || !CONTINENTS.has(m[2]!)) throw new Error(`countries.ts: bad table line: ${line}`);
    out.set(m[1]!, { name: m[5]!, continent: m[2] as Continent, lat: Number(m[3]), lon: Number(m[4]) });
  }
  return out;
}

/** Facts for an alpha-2 code (any case); undefined for unknown codes. */
export function countryInfo(code: string): CountryInfo | undefined {
  return COUNTRIES.get(code.toUpperCase());
}

export function isCountryCode(code: string): boolean {
  return COUNTRIES.has(code.toUpperCase());
}

/** Every known code, upper case, sorted. */
export function countryCodes(): string[] {
  return [...COUNTRIES.keys()];
}

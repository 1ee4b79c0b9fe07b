"""Phrase banks for the hierarchical captions: several templates per clause, picked by a seeded RNG.

Templates are ``str.format`` strings. Every number they receive is already a plain decimal string
(no exponent, no thousands separator) so captions can be parsed back, and every variant of a clause
states the same facts. Where a detector found nothing, the wording says that nothing *clear* was found
("no clear trend", "no spike stands out"): the detectors are conservative, so absence is never asserted.
"""

from __future__ import annotations

# Statistical level
SERIES_HEADER = (
    "The recording has {channels} and {length} steps{duration}.",
    "It spans {length} steps{duration} across {channels}.",
    "{channels_cap} and {length} steps{duration} make up the series.",
)
CHANNEL_STATS = (
    "{name} has a mean of {mean}{unit} and a standard deviation of {std}{unit}; its minimum is {min}{unit} "
    "{t_min} and its maximum is {max}{unit} {t_max}.",
    "{name} averages {mean}{unit} (std {std}{unit}), reaching its lowest value of {min}{unit} {t_min} "
    "and its highest value of {max}{unit} {t_max}.",
    "For {name}: mean {mean}{unit}, std {std}{unit}, minimum {min}{unit} {t_min}, maximum {max}{unit} {t_max}.",
    "{name} ranges from {min}{unit} ({t_min}) to {max}{unit} ({t_max}), with mean {mean}{unit} and "
    "standard deviation {std}{unit}.",
)
CHANNEL_CONSTANT = (
    "{name} is constant at {value}{unit}.",
    "{name} stays at {value}{unit} throughout.",
)
CHANNEL_EMPTY = (
    "{name} has no observed values.",
    "Every value of {name} is missing.",
)
MISSING = (
    "{percent}% of {name}'s values are missing.",
    "{name} is missing {percent}% of its values.",
)
MANY_CHANNEL_STATS = (
    "Channel means range from {low_mean} to {high_mean}; the overall maximum is {max}{max_unit} in {max_name} "
    "{t_max} and the overall minimum is {min}{min_unit} in {min_name} {t_min}.",
    "Across channels the means lie between {low_mean} and {high_mean}; the largest value, {max}{max_unit}, "
    "occurs in {max_name} {t_max}, the smallest, {min}{min_unit}, in {min_name} {t_min}.",
)
MANY_CHANNEL_MISSING = (
    "{count} channels have missing values (up to {percent}%).",
    "Missing values occur in {count} channels, at most {percent}% of a channel.",
)

# Structural level
TOO_SHORT = (
    "{name} is too short ({length} steps) to identify trends or cycles{ends}.",
    "With only {length} steps, {name} is too short for trend or cycle detection{ends}.",
)
TOO_SHORT_ENDS = (
    "; it goes from {first} to {last}",
    "; its first value is {first} and its last {last}",
)
CONSTANT = (
    "{name} is flat: no trend, cycle or spike.",
    "{name} does not vary, so it has no trend, cycle or spikes.",
)
NO_TREND = (
    "{name} shows no clear trend",
    "{name} has no clear upward or downward trend",
    "{name} shows no clear overall rise or fall",
)
ONE_TREND = (
    "{name} {verb} overall at about {rate} per {unit}",
    "{name} {verb} at roughly {rate} per {unit} over the whole series",
    "{name} follows a {adjective} trend of about {rate} per {unit} overall",
)
SEGMENTS_INTRO = (
    "{name}'s trend has {count} phases: ",
    "The trend of {name} changes {breaks} times: ",
    "{name} moves in {count} phases: ",
)
SEGMENT_SLOPED = (
    "it {verb} at about {rate} per {unit} {span}",
    "{span} it {verb} at roughly {rate} per {unit}",
)
SEGMENT_FLAT = (
    "it shows no clear trend {span}",
    "{span} it has no clear trend",
)
RISE_VERBS = ("rises", "increases", "climbs")
FALL_VERBS = ("falls", "decreases", "declines")
PERIOD = (
    "; it repeats with a period of about {period} (cycle amplitude about {amplitude}{unit})",
    "; a cycle of about {period} recurs throughout, with amplitude about {amplitude}{unit}",
    " and oscillates every {period} or so (amplitude about {amplitude}{unit})",
)
NO_PERIOD = (
    "; there is no clear periodicity",
    "; no clear cycle is present",
    " and shows no clear periodicity",
)
NOISE = (
    "The remaining noise is {level} (robust std about {std}{unit}).",
    "Noise around this pattern is {level}, with a robust std of about {std}{unit}.",
    "What remains is {level} noise (robust std about {std}{unit}).",
)
NOISE_LEVELS = ("low", "moderate", "high")
NO_SPIKES = (
    "No spikes stand out.",
    "No clear spike stands out of the noise.",
    "No isolated spike is evident.",
)
SPIKES = (
    "{count_text} clearly {verb} out: {items}.",
    "It shows {count_text} that clearly {verb} out: {items}.",
)
SPIKE_ITEM = (
    "{direction} to {value}{unit} {at}",
    "{direction} reaching {value}{unit} {at}",
)
SPIKE_MORE = ("and {count} more", "plus {count} others")
LEVEL_SHIFT = (
    "Its level shifts {direction} by about {size}{unit} around {at}.",
    "A level shift {direction} of about {size}{unit} occurs around {at}.",
)
CORRELATED = (
    "{a} and {b} are {strength} {sign} correlated (r = {r})",
    "{a} and {b} move {together} (r = {r})",
)
WEAK_CORRELATION = (
    "The channels are not strongly correlated (every |r| is below {bound}).",
    "No pair of channels is strongly correlated (all |r| < {bound}).",
)
STRONGEST_CORRELATION = (
    "The strongest correlation is between {a} and {b} (r = {r}).",
    "{a} and {b} are the most correlated pair (r = {r}).",
)
MANY_TRENDS = (
    "Of the {count} channels, {rising} rise, {falling} fall and {flat} show no clear overall trend.",
    "Trends across the {count} channels: {rising} rising, {falling} falling, {flat} without a clear trend.",
)
MANY_PERIODS = (
    "A clear cycle appears in {count} channels ({items}).",
    "{count} channels repeat periodically ({items}).",
)
MANY_NO_PERIOD = (
    "No channel shows a clear periodicity.",
    "None of the channels is clearly periodic.",
)
MANY_SPIKES = (
    "Clear spikes occur in {count} channels ({items}).",
    "{count} channels contain clear spikes ({items}).",
)
MANY_NO_SPIKES = (
    "No channel shows clear spikes.",
    "No clear spike stands out in any channel.",
)

# Semantic level
DOMAIN_DEVICE = (
    "{domain_cap} data recorded by {device}.",
    "This is {domain} data from {device}.",
    "A {domain} recording made with {device}.",
)
DOMAIN_ONLY = (
    "{domain_cap} data.",
    "This is {domain} data.",
    "A recording from {domain}.",
)
DEVICE_ONLY = (
    "Data recorded by {device}.",
    "A recording made with {device}.",
)
GENERIC = (
    "A time series with {channels}.",
    "A recording with {channels}.",
)
CHANNEL_LIST = (
    "It has {channels}: {items}.",
    "Its {channels} are {items}.",
    "It records {channels}: {items}.",
)
CHANNEL_SINGLE = (
    "Its single channel is {item}.",
    "It has one channel, {item}.",
    "The only channel is {item}.",
)
CHANNEL_LIST_MANY = (
    "It has {channels}, among them {items}.",
    "Its {channels} include {items}.",
)
RATE_HZ = (
    "It is sampled at {rate} Hz.",
    "The sampling rate is {rate} Hz.",
)
RATE_INTERVAL = (
    "It is sampled every {interval}.",
    "One value is recorded every {interval}.",
)
START = (
    "It starts at {start}.",
    "The first value is from {start}.",
)
LABEL = (
    "The labelled activity or event is {label}.",
    "It is annotated as {label}.",
    "Label: {label}.",
)

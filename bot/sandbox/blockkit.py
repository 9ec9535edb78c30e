"""Block Kit to HTML for the sandbox page: what Slack would show, escaped, never silently dropped.

Rendering happens in Python (markupsafe) rather than in the browser so it can be unit-tested,
and so every piece of text the bot sent is escaped exactly once. A block or element type this
module does not know is shown as a visible placeholder naming the type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

# The emoji the bot's templates use, drawn as small inline SVG with a name in words, so the page and its
# screenshots need no emoji font and a screen reader says "Tick", not nothing or an empty box. Colours
# keep a dark outline where the fill alone is light (non-text contrast). Any other `:name:` stays as
# typed, as Slack shows an unknown one.
_DARK = "#1d1c1d"
_BLUE = "#1264a3"
_GREY = "#4c4c4c"


def _dot(fill: str) -> str:
    return f'<circle cx="8" cy="8" r="6.2" fill="{fill}" stroke="{_DARK}" stroke-width="1"/>'


def _page(colour: str) -> str:
    return (f'<rect x="3" y="1.5" width="10" height="13" rx="1" fill="#fff" stroke="{colour}" stroke-width="1.3"/>'
            f'<path d="M5 5h6M5 8h6M5 11h4" stroke="{colour}" stroke-width="1.2"/>')


EMOJI: dict[str, tuple[str, str]] = {  # name -> (what it says, SVG drawing in a 16x16 box)
    "white_check_mark": ("Tick", '<rect x="1" y="1" width="14" height="14" rx="3" fill="#007a5a"/>'
                                 '<path d="M4 8.5l2.5 2.5L12 5.5" fill="none" stroke="#fff" stroke-width="2" '
                                 'stroke-linecap="round" stroke-linejoin="round"/>'),
    "x": ("Cross", '<path d="M3.5 3.5l9 9M12.5 3.5l-9 9" stroke="#c8102e" stroke-width="2.6" stroke-linecap="round"/>'),
    "warning": ("Warning", f'<path d="M8 1.5L15 14H1z" fill="#ffb81c" stroke="{_DARK}" stroke-width="1" '
                           f'stroke-linejoin="round"/><path d="M8 6v4" stroke="{_DARK}" stroke-width="1.6" '
                           f'stroke-linecap="round"/><circle cx="8" cy="12" r="0.9" fill="{_DARK}"/>'),
    "no_entry": ("No entry", '<circle cx="8" cy="8" r="7" fill="#c8102e"/>'
                             '<rect x="3.5" y="6.8" width="9" height="2.4" fill="#fff"/>'),
    "red_circle": ("Red", _dot("#d5281b")),
    "large_green_circle": ("Green", _dot("#007f3b")),
    "large_orange_circle": ("Amber", _dot("#ed8b00")),
    "large_yellow_circle": ("Yellow", _dot("#ffeb3b")),
    "hourglass_flowing_sand": ("Waiting", f'<path d="M4 1.5h8M4 14.5h8" stroke="{_GREY}" stroke-width="1.5" '
                                          f'stroke-linecap="round"/><path d="M5 2.5h6L8 8zM8 8l3 5.5H5z" '
                                          f'fill="#b07d00" stroke="{_GREY}" stroke-width="1"/>'),
    "clipboard": ("Clipboard", f'<rect x="3" y="2.5" width="10" height="12" rx="1.5" fill="#fff" stroke="{_BLUE}" '
                               f'stroke-width="1.5"/><rect x="6" y="1" width="4" height="3" rx="1" fill="{_BLUE}"/>'
                               f'<path d="M5.5 7.5h5M5.5 10h5" stroke="{_BLUE}" stroke-width="1.3"/>'),
    "rotating_light": ("Alert", '<path d="M3 13V9a5 5 0 0 1 10 0v4z" fill="#d5281b"/>'
                                f'<rect x="2" y="13" width="12" height="2" rx="0.5" fill="{_GREY}"/>'),
    "calendar": ("Calendar", f'<rect x="2" y="3" width="12" height="11" rx="1.5" fill="#fff" stroke="{_BLUE}" '
                             f'stroke-width="1.5"/><path d="M2 6.5h12" stroke="{_BLUE}" stroke-width="1.5"/>'
                             f'<path d="M5 1.5v3M11 1.5v3" stroke="{_BLUE}" stroke-width="1.5" '
                             f'stroke-linecap="round"/>'),
    "scales": ("Scales", f'<path d="M8 2v12M4.5 14h7M2.5 4h11" stroke="{_GREY}" stroke-width="1.4" '
                         f'stroke-linecap="round"/><path d="M3 4.5L1 9h4zM13 4.5L11 9h4z" fill="{_GREY}"/>'),
    "bell": ("Bell", '<path d="M4 11V7a4 4 0 0 1 8 0v4l1.5 1.5h-11z" fill="#9a5b00"/>'
                     '<circle cx="8" cy="14" r="1.3" fill="#9a5b00"/>'),
    "arrows_counterclockwise": ("Updated", f'<path d="M13 8a5 5 0 1 1-1.5-3.5" fill="none" stroke="{_BLUE}" '
                                           f'stroke-width="1.6" stroke-linecap="round"/><path d="M12 1.5V5H8.5" '
                                           f'fill="none" stroke="{_BLUE}" stroke-width="1.6" stroke-linecap="round" '
                                           f'stroke-linejoin="round"/>'),
    "memo": ("Memo", _page(_GREY)),
    "page_facing_up": ("Document", _page(_GREY)),
    "lock": ("Lock", '<rect x="3" y="7" width="10" height="7.5" rx="1.5" fill="currentColor"/>'
                     '<path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="1.6"/>'),
}


def icon(name: str, label: str | None = None) -> Markup:
    """One of the bot's emoji as inline SVG: named for assistive technology (`label`, or its words),
    or hidden from it when `label` is empty because the text beside it already says the same."""
    words, drawing = EMOJI[name]
    label = words if label is None else label
    named = (Markup(' role="img" aria-label="{}"').format(label) if label else Markup(' aria-hidden="true"'))
    tip = Markup("<title>{}</title>").format(label) if label else ""
    return Markup('<svg class="emoji" data-emoji="{}" viewBox="0 0 16 16" width="16" height="16" focusable="false"'
                  '{}>{}{}</svg>').format(name, named, tip, Markup(drawing))


def _emoji(match: re.Match[str]) -> str:
    if match.group(1) not in EMOJI:
        return match.group(0)
    return str(icon(match.group(1)))


_ENTITY = re.compile(r"<([^<>\n]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
# Slack's mrkdwn: markers must hug the text and not sit inside a word.
_STYLES = [
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), "s"),
]
_CODE = re.compile(r"`([^`\n]+)`")
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their time zone (date tokens), the directory's names, and "now" for Today/Tomorrow."""

    zone: ZoneInfo
    now: datetime
    names: Mapping[str, str] = field(default_factory=dict)  # user id -> display name
    channels: Mapping[str, str] = field(default_factory=dict)  # channel id -> name
    users: list[tuple[str, str]] = field(default_factory=list)  # (id, name) for user pickers
    links: Mapping[str, str] = field(default_factory=dict)  # channel id -> where the page opens it, if they may see it
    private: frozenset[str] = frozenset()  # private channel ids (shown with a lock, as Slack does)


# --------------------------------------------------------------------------- dates


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _time(local: datetime, secs: bool = False) -> str:
    hour = local.hour % 12 or 12
    tail = f":{local.second:02d}" if secs else ""
    return f"{hour}:{local.minute:02d}{tail} {'AM' if local.hour < 12 else 'PM'}"


def _relative_day(local: datetime, viewer: Viewer) -> str | None:
    days = (local.date() - viewer.now.astimezone(viewer.zone).date()).days
    return {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get(days)


def format_date(epoch: int, fmt: str, viewer: Viewer) -> str:
    """Slack's `<!date^…^fmt|…>` tokens, in the viewer's own time zone, as Slack documents them."""
    local = datetime.fromtimestamp(epoch, viewer.zone)
    month, day = local.strftime("%B"), _ordinal(local.day)
    long = f"{local.strftime('%A')}, {month} {day}, {local.year}"
    plain = f"{month} {day}, {local.year}"
    short = f"{local.strftime('%b')} {local.day}, {local.year}"
    relative = _relative_day(local, viewer)
    delta = viewer.now - local
    ago_minutes = int(abs(delta) / timedelta(minutes=1))
    ago = (f"{ago_minutes} minutes ago" if delta >= timedelta(0) else f"in {ago_minutes} minutes") \
        if ago_minutes < 120 else (f"{ago_minutes // 60} hours ago" if delta >= timedelta(0)
                                   else f"in {ago_minutes // 60} hours")
    values = {
        "date_num": local.strftime("%Y-%m-%d"), "date": plain, "date_short": short, "date_long": long,
        "date_pretty": relative or plain, "date_short_pretty": relative or short, "date_long_pretty": relative or long,
        "time": _time(local), "time_secs": _time(local, secs=True), "ago": ago,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), fmt)


# --------------------------------------------------------------------------- mrkdwn


def _unescape_slack(text: str) -> str:
    # Slack text arrives with &amp; &lt; &gt; escaped; undo exactly those before escaping for HTML.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _entity(inner: str, viewer: Viewer) -> Markup:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        uid = target[1:]
        return Markup('<span class="mention">@{}</span>').format(viewer.names.get(uid) or label or uid)
    if target.startswith("#"):
        return channel_mention(target[1:], label, viewer)
    if target.startswith("!date^"):
        parts = target.split("^")
        try:
            return Markup('<time class="date">{}</time>').format(format_date(int(parts[1]), parts[2], viewer))
        except (IndexError, ValueError):
            return escape(_unescape_slack(label))
    if target.startswith("!"):
        return Markup('<span class="mention">@{}</span>').format(label or target[1:].split("^")[0])
    url = _unescape_slack(target)
    if _SAFE_URL.match(url):
        return Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, _unescape_slack(label or url))
    return escape(_unescape_slack(inner))


def channel_mention(cid: str, label: str, viewer: Viewer) -> Markup:
    """`<#C…>`: a link that opens the channel when the viewer is in it, else its name only; a lock if private."""
    name = viewer.channels.get(cid) or label or cid
    if cid in viewer.private:
        sign = icon("lock", "") + Markup('<span class="visually-hidden">private channel </span>')
    else:
        sign = Markup('<span aria-hidden="true">#</span>')
    href = viewer.links.get(cid)
    if href:
        return Markup('<a class="mention channel" href="{}">{}{}</a>').format(href, sign, name)
    return Markup('<span class="mention channel">{}{}</span>').format(sign, name)


def mrkdwn(text: str, viewer: Viewer) -> Markup:
    """Slack mrkdwn to HTML: entities (mentions, links, dates) first, then bold/italic/strike/code."""
    tokens: list[Markup] = []

    def hold(markup: Markup) -> str:
        tokens.append(markup)
        return f"\x00{len(tokens) - 1}\x00"

    held = _ENTITY.sub(lambda m: hold(_entity(m.group(1), viewer)), text)
    held = _CODE.sub(lambda m: hold(Markup("<code>{}</code>").format(_unescape_slack(m.group(1)))), held)
    out = str(escape(_unescape_slack(held)))
    for pattern, tag in _STYLES:
        out = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", out)
    out = _EMOJI.sub(_emoji, out)
    out = re.sub(r"\x00(\d+)\x00", lambda m: str(tokens[int(m.group(1))]), out)
    return Markup(out.replace("\n", "<br>"))


def text_object(obj: Any, viewer: Viewer) -> Markup:
    if not isinstance(obj, dict):
        return escape(str(obj or ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), viewer)
    plain = escape(_unescape_slack(str(obj.get("text", ""))))
    return Markup(_EMOJI.sub(_emoji, plain)) if obj.get("emoji", True) else plain


def unknown(kind: str, what: str = "block") -> Markup:
    return Markup('<div class="unknown">Unsupported {}: <code>{}</code></div>').format(what, kind or "(no type)")


# --------------------------------------------------------------------------- rich text


def _rich_inline(el: dict[str, Any], viewer: Viewer) -> Markup:
    kind = el.get("type")
    if kind == "text":
        out: Markup = escape(str(el.get("text", ""))).replace("\n", Markup("<br>"))
        style = el.get("style") or {}
        for key, tag in (("code", "code"), ("bold", "b"), ("italic", "i"), ("strike", "s")):
            if style.get(key):
                out = Markup(f"<{tag}>{{}}</{tag}>").format(out)
        return out
    if kind == "link":
        url = str(el.get("url", ""))
        label = el.get("text") or url
        if _SAFE_URL.match(url):
            return Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, label)
        return escape(label)
    if kind == "user":
        return _entity("@" + str(el.get("user_id", "")), viewer)
    if kind == "channel":
        return _entity("#" + str(el.get("channel_id", "")), viewer)
    if kind == "emoji":
        return Markup(_EMOJI.sub(_emoji, str(escape(f":{el.get('name')}:"))))
    if kind == "date":
        return Markup('<time class="date">{}</time>').format(
            format_date(int(el.get("timestamp", 0)), str(el.get("format", "{date}")), viewer))
    if kind == "broadcast":
        return Markup('<span class="mention">@{}</span>').format(el.get("range", "here"))
    return unknown(str(kind), "rich text element")


def _rich_part(part: dict[str, Any], viewer: Viewer) -> Markup:
    kind = part.get("type")
    inner = Markup("").join(_rich_inline(e, viewer) for e in part.get("elements", []) if isinstance(e, dict))
    if kind == "rich_text_section":
        return Markup('<div class="rt-section">{}</div>').format(inner)
    if kind == "rich_text_quote":
        return Markup("<blockquote>{}</blockquote>").format(inner)
    if kind == "rich_text_preformatted":
        return Markup("<pre>{}</pre>").format(inner)
    if kind == "rich_text_list":
        tag = "ol" if part.get("style") == "ordered" else "ul"
        items = Markup("").join(Markup("<li>{}</li>").format(_rich_part(e, viewer)) for e in part.get("elements", []))
        return Markup(f"<{tag}>{{}}</{tag}>").format(items)
    return unknown(str(kind), "rich text part")


# --------------------------------------------------------------------------- elements


def _action_data(el: dict[str, Any], block_id: str, **extra: Any) -> str:
    return json.dumps({"action_id": el.get("action_id", ""), "block_id": block_id, "type": el.get("type"), **extra})


def _option_label(opt: dict[str, Any], viewer: Viewer) -> Markup:
    return text_object(opt.get("text"), viewer)


def select_options(el: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _button(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    style = el.get("style", "")
    if el.get("url"):
        return Markup('<a class="btn {}" href="{}" target="_blank" rel="noopener">{}</a>').format(
            style, el["url"] if _SAFE_URL.match(str(el["url"])) else "#", text_object(el.get("text"), viewer))
    data = _action_data(el, block_id, value=el.get("value", ""))
    return Markup('<button type="submit" class="btn {}" name="act" value="{}">{}</button>'
                  ).format(style, data, text_object(el.get("text"), viewer))


def _action_select(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    """A select inside an actions block or accessory: choosing sends the action at once, as Slack does."""
    kind = el.get("type")
    if kind in ("users_select", "multi_users_select"):
        choices = [(uid, escape(name)) for uid, name in viewer.users]
        key = "selected_user"
    else:
        choices = [(str(o.get("value")), _option_label(o, viewer)) for o in select_options(el)]
        key = "selected_option"
    placeholder = text_object(el.get("placeholder") or {"type": "plain_text", "text": "Choose…"}, viewer)
    raw = el.get("placeholder") if isinstance(el.get("placeholder"), dict) else {}
    name = "More actions" if kind == "overflow" else str(raw.get("text") or "Choose").rstrip("…")
    options = Markup("").join(
        Markup('<option value="{}">{}</option>').format(
            _action_data(el, block_id, **{key: value if key == "selected_user" else {"value": value}}), label)
        for value, label in choices)
    return Markup('<select class="action-select" name="act" data-autosubmit="1" aria-label="{}" '
                  'aria-describedby="sends-at-once"><option value="" selected disabled>{}</option>{}</select>'
                  ).format(name, placeholder, options)


def interactive(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    kind = el.get("type")
    if kind == "button":
        return _button(el, block_id, viewer)
    if kind in ("static_select", "users_select", "overflow", "external_select", "conversations_select",
                "channels_select", "multi_static_select", "multi_users_select"):
        if kind == "overflow":
            el = {**el, "placeholder": {"type": "plain_text", "text": "⋯"}}  # named "More actions"
        return _action_select(el, block_id, viewer)
    if kind == "image":
        return Markup('<span class="image-ph" title="{}">[image: {}]</span>').format(
            el.get("image_url", ""), el.get("alt_text", ""))
    return unknown(str(kind), "element")


# --------------------------------------------------------------------------- input elements (modals)

# Where view.state keeps each control's value, and where a view sets it first (Slack's names).
STATE_KEYS = {
    "plain_text_input": "value", "datepicker": "selected_date", "timepicker": "selected_time",
    "users_select": "selected_user", "multi_users_select": "selected_users",
    "static_select": "selected_option", "radio_buttons": "selected_option",
    "multi_static_select": "selected_options", "checkboxes": "selected_options",
}
_INITIAL_KEYS = {
    "plain_text_input": "initial_value", "datepicker": "initial_date", "timepicker": "initial_time",
    "users_select": "initial_user", "multi_users_select": "initial_users",
    "static_select": "initial_option", "radio_buttons": "initial_option",
    "multi_static_select": "initial_options", "checkboxes": "initial_options",
}

State = Mapping[str, Mapping[str, Mapping[str, Any]]]  # view.state.values: block id -> action id -> element


def _as_values(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, dict):
        return [str(raw.get("value"))]
    if isinstance(raw, list):
        return [str(x.get("value") if isinstance(x, dict) else x) for x in raw]
    return [str(raw)]


def shown_values(el: Mapping[str, Any], entry: Mapping[str, Any] | None = None) -> list[str]:
    """What a control shows: what the person entered, if Slack kept it (`entry`, from view.state),
    else the view's initial value. Empty list when nothing is chosen."""
    kind = str(el.get("type", ""))
    if entry is not None:
        return _as_values(entry.get(STATE_KEYS.get(kind, "value")))
    return _as_values(el.get(_INITIAL_KEYS.get(kind, "initial_value")))


def _field_name(block_id: str, el: dict[str, Any]) -> str:
    return f"v|{block_id}|{el.get('action_id', '')}|{el.get('type', '')}"


def field_id(block_id: str, el: Mapping[str, Any]) -> str:
    return f"{block_id}--{el.get('action_id', '')}"


def _attrs(**values: Any) -> Markup:
    """HTML attributes from keyword arguments (underscores become dashes); False/None/"" are left out."""
    out = Markup("")
    for key, value in values.items():
        if value is True:
            value = "true"
        if value in (False, None, ""):
            continue
        out += Markup(' {}="{}"').format(key.replace("_", "-"), value)
    return out


def input_element(el: dict[str, Any], block_id: str, viewer: Viewer, *, entry: Mapping[str, Any] | None = None,
                  describedby: str = "", invalid: bool = False, required: bool = False,
                  dispatch: bool = False) -> Markup:
    """A form control whose name carries block id, action id and type, so the page can rebuild view.state.

    It shows `entry` (what the person gave, kept by Slack) over the view's initial value, and carries
    its hint and error (aria-describedby, aria-invalid). `dispatch` (an input block's dispatch_action)
    makes choosing send a block action at once, as Slack does."""
    kind = str(el.get("type", ""))
    name = _field_name(block_id, el)
    marker = Markup('<input type="hidden" name="present" value="{}">').format(name)
    fid = field_id(block_id, el)
    shown = shown_values(el, entry)
    aria = _attrs(aria_describedby=describedby, aria_invalid=invalid, aria_required=required,
                  data_dispatch="1" if dispatch else "")
    placeholder = str(el["placeholder"].get("text", "")) if isinstance(el.get("placeholder"), dict) else ""
    if kind == "plain_text_input":
        value = shown[0] if shown else ""
        if el.get("multiline"):
            control = Markup('<textarea id="{}" name="{}" rows="3"{}{}>{}</textarea>').format(
                fid, name, _attrs(placeholder=placeholder), aria, value)
        else:
            control = Markup('<input id="{}" type="text" name="{}" value="{}"{}{}>').format(
                fid, name, value, _attrs(placeholder=placeholder), aria)
    elif kind in ("static_select", "multi_static_select", "users_select", "multi_users_select"):
        people = kind in ("users_select", "multi_users_select")
        choices = [(uid, escape(nm)) for uid, nm in viewer.users] if people else \
            [(str(o.get("value")), _option_label(o, viewer)) for o in select_options(el)]
        multiple = kind.startswith("multi")
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(value, Markup(" selected") if value in shown else "",
                                                              label)
            for value, label in choices)
        blank = Markup("") if multiple else Markup('<option value="">{}</option>').format(
            (placeholder or ("Choose a person" if people else "Choose")).rstrip("…") + "…")
        control = Markup('<select id="{}" name="{}"{}{}>{}{}</select>').format(
            fid, name, Markup(" multiple") if multiple else "", aria, blank, options)
    elif kind == "datepicker":
        control = Markup('<input id="{}" type="date" name="{}" value="{}"{}>').format(
            fid, name, shown[0] if shown else "", aria)
    elif kind == "timepicker":
        control = Markup('<input id="{}" type="time" name="{}" value="{}"{}>').format(
            fid, name, shown[0] if shown else "", aria)
    elif kind in ("checkboxes", "radio_buttons"):
        input_type = "checkbox" if kind == "checkboxes" else "radio"
        choice_aria = _attrs(aria_describedby=describedby, aria_invalid=invalid)
        control = Markup("").join(
            Markup('<label class="choice"><input type="{}" name="{}" value="{}"{}{}> {}</label>').format(
                input_type, name, o.get("value"), Markup(" checked") if str(o.get("value")) in shown else "",
                choice_aria, _option_label(o, viewer))
            for o in el.get("options") or [])
        control = Markup('<div id="{}" class="choices">{}</div>').format(fid, control)
    else:
        return unknown(kind, "input element")
    return marker + control


# --------------------------------------------------------------------------- blocks


def _input_block(block: dict[str, Any], viewer: Viewer, errors: Mapping[str, str], state: State) -> Markup:
    block_id = str(block.get("block_id", ""))
    element = block.get("element") or {}
    fid = field_id(block_id, element)
    error = errors.get(block_id)
    optional = Markup(' <span class="optional">(optional)</span>') if block.get("optional") else ""
    hint = Markup('<div class="hint" id="{}-hint">{}</div>').format(fid, text_object(block["hint"], viewer)) \
        if block.get("hint") else ""
    err = Markup('<div class="field-error" id="{}-error">{} {}</div>').format(
        fid, icon("warning", "Error:"), error) if error else ""
    describedby = " ".join(x for x in (f"{fid}-error" if error else "", f"{fid}-hint" if hint else "") if x)
    entry = (state.get(block_id) or {}).get(str(element.get("action_id", "")))
    control = input_element(element, block_id, viewer, entry=entry, describedby=describedby, invalid=bool(error),
                            required=not block.get("optional"), dispatch=bool(block.get("dispatch_action")))
    label = text_object(block.get("label"), viewer)
    css = "bk-input" + (" has-error" if error else "")
    if element.get("type") in ("checkboxes", "radio_buttons"):  # a group of controls: named by a legend
        return Markup('<fieldset class="{}" data-block="{}"><legend>{}{}</legend>{}{}{}</fieldset>').format(
            css, block_id, label, optional, control, hint, err)
    return Markup('<div class="{}" data-block="{}"><label for="{}">{}{}</label>{}{}{}</div>').format(
        css, block_id, fid, label, optional, control, hint, err)


def render_block(block: Any, viewer: Viewer, errors: Mapping[str, str] | None = None,
                 state: State | None = None) -> Markup:
    if not isinstance(block, dict):
        return unknown(type(block).__name__)
    kind = str(block.get("type", ""))
    block_id = str(block.get("block_id", ""))
    if kind == "input":
        return _input_block(block, viewer, errors or {}, state or {})
    if kind == "header":
        return Markup('<h3 class="bk-header">{}</h3>').format(text_object(block.get("text"), viewer))
    if kind == "divider":
        return Markup('<hr class="bk-divider">')
    if kind == "section":
        parts = [Markup('<div class="bk-text">{}</div>').format(text_object(block["text"], viewer))] \
            if block.get("text") else []
        if block.get("fields"):
            cells = Markup("").join(Markup('<div class="bk-field">{}</div>').format(text_object(f, viewer))
                                    for f in block["fields"])
            parts.append(Markup('<div class="bk-fields">{}</div>').format(cells))
        body = Markup('<div class="bk-section-body">{}</div>').format(Markup("").join(parts))
        accessory = Markup('<div class="bk-accessory">{}</div>').format(
            interactive(block["accessory"], block_id, viewer)) if block.get("accessory") else Markup("")
        return Markup('<div class="bk-section">{}{}</div>').format(body, accessory)
    if kind == "context":
        items = []
        for el in block.get("elements") or []:
            if isinstance(el, dict) and el.get("type") == "image":
                items.append(interactive(el, block_id, viewer))
            else:
                items.append(text_object(el, viewer))
        return Markup('<div class="bk-context">{}</div>').format(Markup(" ").join(items))
    if kind == "actions":
        return Markup('<div class="bk-actions">{}</div>').format(
            Markup("").join(interactive(el, block_id, viewer) for el in block.get("elements") or []))
    if kind == "image":
        title = text_object(block.get("title"), viewer) if block.get("title") else ""
        return Markup('<div class="image-ph">[image: {}] {}</div>').format(block.get("alt_text", ""), title)
    if kind == "rich_text":
        return Markup('<div class="bk-rich">{}</div>').format(
            Markup("").join(_rich_part(p, viewer) for p in block.get("elements") or [] if isinstance(p, dict)))
    return unknown(kind)


def render_blocks(blocks: Any, viewer: Viewer, *, errors: Mapping[str, str] | None = None,
                  state: State | None = None, fallback: str = "") -> Markup:
    """All of a message's or view's blocks (buttons submit the enclosing form); the text when there are none.
    A modal's `errors` (block id -> text) show at their fields; `state` is what the person entered."""
    if not blocks:
        return Markup('<div class="bk-text">{}</div>').format(mrkdwn(fallback, viewer))
    if not isinstance(blocks, list):
        return unknown("blocks that are not a list")
    return Markup("").join(render_block(b, viewer, errors, state) for b in blocks)


def viewer_for(users: Mapping[str, Mapping[str, Any]], channels: Mapping[str, Mapping[str, Any]], user_id: str,
               now: Callable[[], datetime], links: Mapping[str, str] | None = None) -> Viewer:
    """The viewer's zone and the directory's names, from the stand-in's users and channels; `links`
    holds the channels the viewer may open (id -> page address)."""
    me = users.get(user_id) or {}
    names = {uid: str(u.get("real_name") or u.get("name") or uid) for uid, u in users.items()}
    channel_names = {cid: str(c.get("name") or cid) for cid, c in channels.items()}
    people = sorted(((uid, n) for uid, n in names.items() if not users[uid].get("is_bot")), key=lambda p: p[1])
    private = frozenset(cid for cid, c in channels.items() if c.get("is_private") and not c.get("is_im"))
    return Viewer(zone=ZoneInfo(str(me.get("tz") or "Europe/London")), now=now(), names=names,
                  channels=channel_names, users=people, links=dict(links or {}), private=private)



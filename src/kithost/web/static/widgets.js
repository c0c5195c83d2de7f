// ChatKit widgets (Card, ListView, Box/Row/Col, Text, Title, Caption, Markdown, Badge, Button,
// Image, Icon, Divider, Spacer, Form controls …) rendered as DOM. Text goes into text nodes;
// colours and sizes are applied through the CSSOM only after `CSS.supports` accepts them.

import { renderMarkdown, safeHref } from "./markdown.js";

const COLOR_TOKENS = new Set([
  "primary",
  "secondary",
  "tertiary",
  "emphasis",
  "success",
  "danger",
  "warning",
  "info",
  "discovery",
  "caution",
]);

const ICONS = {
  check: "✓",
  "check-circle": "✓",
  "check-circle-filled": "✓",
  close: "✕",
  x: "✕",
  plus: "+",
  star: "★",
  "star-filled": "★",
  info: "ℹ",
  warning: "⚠",
  error: "⚠",
  search: "⌕",
  "chevron-right": "›",
  "chevron-left": "‹",
  "arrow-right": "→",
  "arrow-left": "←",
  calendar: "📅",
  clock: "🕒",
  mail: "✉",
  phone: "☎",
  user: "👤",
  bolt: "⚡",
  globe: "🌐",
  map: "🗺",
  "map-pin": "📍",
  document: "📄",
  "external-link": "↗",
  sparkle: "✦",
  lightbulb: "💡",
};

function cssColor(value) {
  if (typeof value === "object" && value) value = value.light || value.dark;
  return typeof value === "string" && CSS.supports("color", value) ? value : null;
}

function applyColor(el, value, property = "color") {
  if (typeof value === "string" && COLOR_TOKENS.has(value)) {
    el.classList.add(`w-${property === "color" ? "color" : "bg"}-${value}`);
    return;
  }
  const color = cssColor(value);
  if (color) el.style[property] = color;
}

function length(value) {
  if (typeof value === "number" && Number.isFinite(value)) return `${value * 4}px`;
  if (typeof value === "string" && CSS.supports("width", value)) return value;
  return null;
}

function spacing(el, property, value) {
  if (value === undefined || value === null) return;
  if (typeof value === "object") {
    const sides = {
      top: value.top ?? value.y,
      bottom: value.bottom ?? value.y,
      left: value.left ?? value.x,
      right: value.right ?? value.x,
    };
    for (const [side, v] of Object.entries(sides)) {
      const css = length(v);
      if (css) el.style[`${property}${side[0].toUpperCase()}${side.slice(1)}`] = css;
    }
    return;
  }
  const css = length(value);
  if (css) el.style[property] = css;
}

function sized(el, component) {
  for (const key of ["width", "height", "minWidth", "maxWidth", "minHeight", "maxHeight"]) {
    const css = length(component[key]);
    if (css) el.style[key] = css;
  }
  if (typeof component.flex === "number" || typeof component.flex === "string") {
    if (CSS.supports("flex", String(component.flex))) el.style.flex = String(component.flex);
  }
}

function boxStyle(el, component) {
  spacing(el, "padding", component.padding);
  spacing(el, "margin", component.margin);
  const gap = length(component.gap);
  if (gap) el.style.gap = gap;
  const align = { start: "flex-start", end: "flex-end", center: "center", stretch: "stretch" };
  if (align[component.align]) el.style.alignItems = align[component.align];
  const justify = {
    ...align,
    between: "space-between",
    around: "space-around",
    evenly: "space-evenly",
  };
  if (justify[component.justify]) el.style.justifyContent = justify[component.justify];
  if (component.wrap) el.style.flexWrap = component.wrap === true ? "wrap" : component.wrap;
  if (component.background) applyColor(el, component.background, "background");
  const radius = { sm: "4px", md: "8px", lg: "12px", xl: "16px", full: "999px" };
  if (radius[component.radius]) el.style.borderRadius = radius[component.radius];
  if (component.border) el.classList.add("w-border");
  sized(el, component);
}

function text(doc, tag, value, className) {
  const el = doc.createElement(tag);
  el.className = className;
  el.textContent = value == null ? "" : String(value);
  return el;
}

function textStyle(el, component) {
  if (component.size) el.classList.add(`w-size-${String(component.size).replace(/\W/g, "")}`);
  if (component.weight) el.classList.add(`w-weight-${String(component.weight).replace(/\W/g, "")}`);
  if (component.italic) el.style.fontStyle = "italic";
  if (component.lineThrough) el.style.textDecoration = "line-through";
  if (component.truncate) el.classList.add("w-truncate");
  if (["start", "center", "end"].includes(component.textAlign)) {
    el.style.textAlign = component.textAlign;
  }
  if (component.color) applyColor(el, component.color);
}

/** Collect a form's values into an object, as ChatKit sends them in an action's payload. */
function formValues(form) {
  const values = {};
  for (const field of form.querySelectorAll("[name]")) {
    if (field.type === "checkbox") values[field.name] = field.checked;
    else if (field.type === "radio") {
      if (field.checked) values[field.name] = field.value;
    } else values[field.name] = field.value;
  }
  return values;
}

/**
 * Render a widget tree. `context.onAction(action, element)` runs a component's action
 * (`{type, payload, handler?}`); a form's controls are added to its submit action's payload.
 */
export function renderWidget(component, context = {}, doc = document) {
  const render = (child) => renderWidget(child, context, doc);
  const children = (el, list) => {
    for (const child of Array.isArray(list) ? list : []) {
      const node = render(child);
      if (node) el.append(node);
    }
    return el;
  };
  if (!component || typeof component !== "object") return null;
  const type = component.type;
  let el;
  switch (type) {
    case "Card": {
      el = doc.createElement("div");
      el.className = "w-card";
      if (component.size) el.classList.add(`w-card-${String(component.size).replace(/\W/g, "")}`);
      boxStyle(el, component);
      children(el, component.children);
      const actions = [component.confirm, component.cancel].filter(Boolean);
      if (actions.length) {
        const row = doc.createElement("div");
        row.className = "w-card-actions";
        for (const [index, action] of actions.entries()) {
          row.append(
            render({
              type: "Button",
              label: action.label,
              onClickAction: action.action,
              style: index === 0 && component.confirm ? "primary" : "secondary",
            }),
          );
        }
        el.append(row);
      }
      break;
    }
    case "ListView": {
      el = doc.createElement("ul");
      el.className = "w-list";
      const items = Array.isArray(component.children) ? component.children : [];
      const limit = typeof component.limit === "number" ? component.limit : items.length;
      children(el, items.slice(0, limit));
      if (items.length > limit) {
        const more = doc.createElement("button");
        more.type = "button";
        more.className = "w-list-more";
        more.textContent = `Show ${items.length - limit} more`;
        more.addEventListener("click", () => {
          more.remove();
          children(el, items.slice(limit));
        });
        const wrapper = doc.createElement("div");
        wrapper.append(el, more);
        return wrapper;
      }
      break;
    }
    case "ListViewItem": {
      el = doc.createElement("li");
      el.className = "w-list-item";
      boxStyle(el, component);
      children(el, component.children);
      if (component.onClickAction && context.onAction) {
        el.classList.add("w-clickable");
        el.tabIndex = 0;
        const run = () => context.onAction(component.onClickAction, el);
        el.addEventListener("click", run);
        el.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            run();
          }
        });
      }
      break;
    }
    case "Box":
    case "Row":
    case "Col":
    case "Transition":
    case "Basic": {
      el = doc.createElement("div");
      const direction = type === "Row" ? "row" : type === "Col" ? "col" : component.direction;
      el.className = direction === "row" ? "w-row" : "w-col";
      boxStyle(el, component);
      children(el, component.children);
      break;
    }
    case "Form": {
      el = doc.createElement("form");
      el.className = "w-col w-form";
      boxStyle(el, component);
      children(el, component.children);
      el.addEventListener("submit", (event) => {
        event.preventDefault();
        const action = component.onSubmitAction;
        if (!action || !context.onAction) return;
        const payload = { ...(action.payload || {}), ...formValues(el) };
        context.onAction({ ...action, payload }, el);
      });
      break;
    }
    case "Text":
      el = text(doc, "p", component.value, "w-text");
      textStyle(el, component);
      break;
    case "Title":
      el = text(doc, "h3", component.value, "w-title");
      textStyle(el, component);
      break;
    case "Caption":
      el = text(doc, "p", component.value, "w-caption");
      textStyle(el, component);
      break;
    case "Label":
      el = text(doc, "label", component.value, "w-label");
      textStyle(el, component);
      break;
    case "Markdown":
      el = doc.createElement("div");
      el.className = "w-markdown md";
      el.append(renderMarkdown(component.value ?? "", doc));
      break;
    case "Badge":
      el = text(doc, "span", component.label, "w-badge");
      if (component.pill) el.classList.add("w-pill");
      if (component.variant) el.classList.add(`w-badge-${String(component.variant).replace(/\W/g, "")}`);
      applyColor(el, component.color || "secondary");
      break;
    case "Button": {
      el = doc.createElement("button");
      el.type = component.submit ? "submit" : "button";
      el.className = `w-button w-button-${component.style === "secondary" ? "secondary" : "primary"}`;
      if (component.block) el.classList.add("w-block");
      if (component.color) applyColor(el, component.color, "background");
      const icon = ICONS[component.iconStart];
      el.textContent = `${icon ? `${icon} ` : ""}${component.label ?? ""}`;
      el.disabled = Boolean(component.disabled);
      if (!component.submit && component.onClickAction && context.onAction) {
        el.addEventListener("click", () => context.onAction(component.onClickAction, el));
      }
      break;
    }
    case "Image": {
      el = doc.createElement("img");
      el.className = "w-image";
      const src = safeHref(component.src) || (/^data:image\//.test(component.src) && component.src);
      if (src) el.src = src;
      el.alt = component.alt || "";
      sized(el, component);
      const size = length(component.size);
      if (size) {
        el.style.width = size;
        el.style.height = size;
      }
      if (["cover", "contain", "fill", "none", "scale-down"].includes(component.fit)) {
        el.style.objectFit = component.fit;
      }
      if (component.frame) el.classList.add("w-border");
      break;
    }
    case "Icon":
      el = text(doc, "span", ICONS[component.name] ?? "•", "w-icon");
      el.setAttribute("aria-hidden", "true");
      if (component.color) applyColor(el, component.color);
      break;
    case "Divider":
      el = doc.createElement("hr");
      el.className = "w-divider";
      spacing(el, "marginTop", component.spacing);
      spacing(el, "marginBottom", component.spacing);
      break;
    case "Spacer":
      el = doc.createElement("div");
      el.className = "w-spacer";
      break;
    case "Input":
    case "DatePicker": {
      el = doc.createElement("input");
      el.className = "w-input";
      el.type = type === "DatePicker" ? "date" : ["email", "number", "password", "tel", "text"].includes(component.inputType) ? component.inputType : "text";
      el.name = component.name || "";
      el.placeholder = component.placeholder || "";
      el.value = component.defaultValue ?? "";
      el.required = Boolean(component.required);
      el.disabled = Boolean(component.disabled);
      break;
    }
    case "Textarea":
      el = doc.createElement("textarea");
      el.className = "w-input";
      el.name = component.name || "";
      el.placeholder = component.placeholder || "";
      el.value = component.defaultValue ?? "";
      el.required = Boolean(component.required);
      break;
    case "Select": {
      el = doc.createElement("select");
      el.className = "w-input";
      el.name = component.name || "";
      if (component.placeholder) {
        const option = text(doc, "option", component.placeholder, "");
        option.value = "";
        el.append(option);
      }
      for (const choice of component.options || []) {
        const option = text(doc, "option", choice.label ?? choice.value, "");
        option.value = choice.value ?? "";
        option.disabled = Boolean(choice.disabled);
        el.append(option);
      }
      if (component.defaultValue !== undefined) el.value = component.defaultValue;
      if (component.onChangeAction && context.onAction) {
        el.addEventListener("change", () =>
          context.onAction(
            { ...component.onChangeAction, payload: { ...(component.onChangeAction.payload || {}), value: el.value } },
            el,
          ),
        );
      }
      break;
    }
    case "Checkbox": {
      el = doc.createElement("label");
      el.className = "w-check";
      const box = doc.createElement("input");
      box.type = "checkbox";
      box.name = component.name || "";
      box.checked = Boolean(component.defaultChecked);
      el.append(box, doc.createTextNode(` ${component.label ?? ""}`));
      break;
    }
    case "RadioGroup": {
      el = doc.createElement("div");
      el.className = component.direction === "row" ? "w-row" : "w-col";
      for (const choice of component.options || []) {
        const label = doc.createElement("label");
        label.className = "w-check";
        const radio = doc.createElement("input");
        radio.type = "radio";
        radio.name = component.name || "";
        radio.value = choice.value ?? "";
        radio.checked = choice.value === component.defaultValue;
        label.append(radio, doc.createTextNode(` ${choice.label ?? choice.value ?? ""}`));
        el.append(label);
      }
      break;
    }
    default:
      // Charts and components this renderer does not know: say so rather than hide them.
      el = text(doc, "p", `[${String(type || "unknown")} widget]`, "w-caption");
  }
  if (component.id) el.dataset.widgetId = String(component.id);
  el.dataset.widget = String(type);
  return el;
}

/** Apply a `thread.item.updated` widget update to a widget tree; returns the new tree. */
export function updateWidget(root, update) {
  if (update.type === "widget.root.updated") return update.widget;
  const visit = (node) => {
    if (!node || typeof node !== "object") return node;
    if (node.id === update.component_id) {
      if (update.type === "widget.component.updated") return update.component;
      if (update.type === "widget.streaming_text.value_delta") {
        return { ...node, value: `${node.value ?? ""}${update.delta}` };
      }
    }
    if (Array.isArray(node.children)) return { ...node, children: node.children.map(visit) };
    return node;
  };
  return visit(root);
}

/*
 * The condition builder of the tag and segment forms (profiles/admin/condition_builder.py).
 *
 * Draws a condition as nested groups ("all of", "any of", each of which may be negated) of
 * rows, one row per leaf of the condition language, and keeps the JSON box in step: editing
 * the rows rewrites the JSON; editing the JSON (once it parses) redraws the rows; JSON that does
 * not parse is reported and the rows stay as they were. A node the rows cannot show (a typo
 * typed into the box, a key the language does not know) stays as it is, as a read-only row, so
 * that the builder never loses what it was given. While the condition changes, the live count
 * endpoint is asked (debounced) how many persons match; its errors are shown at their rows.
 * A new count aborts the one in flight; a 429 (our aborted count still runs on the server, one
 * per staff user) is shown and the count asked again after its Retry-After, or at the next edit.
 *
 * No framework and no word of its own: the vocabulary and every label come from the page.
 */
"use strict";

(function () {
  const GROUPS = ["all", "any"];
  const LEAF_KEYS = {
    tag: ["tag"],
    app: ["app"],
    followed: ["followed"],
    has_phone: ["has_phone"],
    field: ["field", "op", "value"],
    event: ["event", "within_days", "min_count", "max_count"],
  };
  const NODE_KEYS = ["all", "any", "not"];
  const DEBOUNCE_MS = 400;

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, (match, name) => String(values[name]));
  }

  class Builder {
    constructor(root) {
      this.root = root;
      this.textarea = document.getElementById(root.dataset.textarea);
      this.vocab = JSON.parse(document.getElementById(root.dataset.vocabulary).textContent);
      this.msg = this.vocab.messages;
      this.tree = root.querySelector("[data-cb-tree]");
      this.countOut = root.querySelector("[data-cb-count]");
      this.jsonError = root.querySelector("[data-cb-json-error]");
      this.fields = Object.fromEntries(this.vocab.fields.map((field) => [field.value, field]));
      this.model = null;
      this.sequence = 0;
      this.timer = null;
      this.controller = null;
      root.hidden = false;
      this.textarea.addEventListener("input", () => this.fromText());
      this.fromText();
    }

    // --- the model: {type: "group" | "leaf" | "raw", nots: how many "not" wrap it, ...} ---

    parse(node) {
      let nots = 0;
      while (isObject(node) && Object.keys(node).length === 1 && isObject(node.not)) {
        nots += 1;
        node = node.not;
      }
      const model = this.parseBare(node);
      model.nots += nots;
      return model;
    }

    parseBare(node) {
      const raw = { type: "raw", value: node, nots: 0 };
      if (!isObject(node)) return raw;
      const keys = Object.keys(node);
      if (keys.length === 1 && GROUPS.includes(keys[0]) && Array.isArray(node[keys[0]])) {
        const children = node[keys[0]].map((child) => this.parse(child));
        return { type: "group", op: keys[0], children, nots: 0 };
      }
      const kinds = keys.filter((key) => key in LEAF_KEYS);
      if (kinds.length !== 1) return raw;
      const kind = kinds[0];
      if (!keys.every((key) => LEAF_KEYS[kind].includes(key))) return raw;
      const fits = {
        tag: () => typeof node.tag === "string",
        app: () => typeof node.app === "string",
        followed: () => typeof node.followed === "string",
        has_phone: () => typeof node.has_phone === "boolean",
        field: () => node.field in this.fields && typeof node.op === "string" && !isObject(node.value),
        event: () => typeof node.event === "string"
          && ["within_days", "min_count", "max_count"].every((key) => !isObject(node[key])),
      };
      return fits[kind]() ? { type: "leaf", kind, values: { ...node }, nots: 0 } : raw;
    }

    serialize(model) {
      let node;
      if (model.type === "group") {
        node = { [model.op]: model.children.map((child) => this.serialize(child)) };
      } else if (model.type === "leaf") {
        node = {};
        for (const key of LEAF_KEYS[model.kind]) {
          if (model.values[key] !== undefined) node[key] = model.values[key];
        }
      } else {
        node = model.value;
      }
      for (let n = 0; n < model.nots; n += 1) node = { not: node };
      return node;
    }

    newLeaf(kind = "tag") {
      const first = (list) => (list.length ? list[0].value : "");
      const serviceAccounts = this.vocab.apps.filter((app) => app.service_account);
      const field = "pay_count" in this.fields ? "pay_count" : this.vocab.fields[0].value;
      const values = {
        tag: { tag: first(this.vocab.tags) },
        app: { app: first(this.vocab.apps) },
        followed: { followed: first(serviceAccounts) },
        has_phone: { has_phone: true },
        field: this.fieldDefaults(field),
        event: { event: first(this.vocab.event_types), within_days: 30, min_count: 1 },
      }[kind];
      return { type: "leaf", kind, values, nots: 0 };
    }

    fieldDefaults(field) {
      const type = this.fields[field].type;
      const value = { count: 1, amount: 100, time: 30, text: "" }[type];
      return { field, op: this.vocab.operators[type][0].value, value };
    }

    // --- keeping the JSON box and the rows in step ---

    fromText() {
      const text = this.textarea.value.trim();
      let parsed = null;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          this.jsonError.textContent = format(this.msg.invalid_json, { error: error.message });
          this.jsonError.hidden = false;
          clearTimeout(this.timer);
          this.sequence += 1; // an answer on its way is about the rows, not this text
          this.showCount("", "invalid-json");
          return;
        }
      }
      this.jsonError.hidden = true;
      this.model = text ? this.parse(parsed) : null;
      this.render();
      this.scheduleCount();
    }

    changed(redraw) {
      const condition = this.model === null ? null : this.serialize(this.model);
      this.textarea.value = condition === null ? "" : JSON.stringify(condition, null, 2);
      this.jsonError.hidden = true;
      if (redraw) this.render();
      this.scheduleCount();
    }

    // --- drawing ---

    render() {
      this.nodes = new Map();
      const content = [];
      if (this.model === null) {
        content.push(h("p", { class: "cb-empty", text: this.msg.empty }));
        content.push(this.button("add_condition", "cb-add-condition", () => {
          this.model = { type: "group", op: "all", children: [this.newLeaf()], nots: 0 };
          this.changed(true);
        }));
      } else {
        const top = this.model.type === "group" ? null : () => {
          this.model = null;
          this.changed(true);
        };
        content.push(this.renderNode(this.model, [], top));
        if (this.model.type !== "group") {
          // A lone leaf at the top: adding a row puts both into an "all of" group.
          content.push(this.button("add_condition", "cb-add-condition", () => {
            this.model = { type: "group", op: "all", children: [this.model, this.newLeaf()], nots: 0 };
            this.changed(true);
          }));
        }
      }
      this.tree.replaceChildren(...content);
    }

    button(label, action, onclick) {
      return h("button", { type: "button", class: "button", dataset: { cbAction: action }, onclick },
        this.msg[label]);
    }

    renderNode(model, path, remove) {
      const inner = path.concat(Array(model.nots).fill("not"));
      const negate = h("label", { class: "cb-not" },
        h("input", {
          type: "checkbox", checked: model.nots > 0, dataset: { cbNot: "" },
          onchange: (event) => { model.nots = event.target.checked ? 1 : 0; this.changed(true); },
        }),
        " ", this.msg.negate);
      const removeButton = remove && this.button("remove", "cb-remove", remove);
      const errors = h("ul", { class: "cb-errors errorlist", dataset: { cbErrors: "" } });
      let element;
      if (model.type === "group") {
        const op = this.select(this.vocab.groups.filter((group) => GROUPS.includes(group.value)),
          model.op, "group", (value) => { model.op = value; this.changed(true); });
        const children = model.children.map((child, index) =>
          this.renderNode(child, inner.concat([model.op, index]), () => {
            model.children.splice(index, 1);
            if (model === this.model && model.children.length === 0) this.model = null;
            this.changed(true);
          }));
        element = h("div", { class: "cb-node cb-group" },
          h("div", { class: "cb-head" }, negate, op,
            this.button("add_condition", "cb-add-condition", () => {
              model.children.push(this.newLeaf());
              this.changed(true);
            }),
            this.button("add_group", "cb-add-group", () => {
              model.children.push({ type: "group", op: "any", children: [this.newLeaf()], nots: 0 });
              this.changed(true);
            }),
            removeButton),
          errors,
          h("div", { class: "cb-children" }, children));
      } else if (model.type === "leaf") {
        const kind = this.select(this.vocab.kinds, model.kind, "kind", (value) => {
          const fresh = this.newLeaf(value);
          model.kind = fresh.kind;
          model.values = fresh.values;
          this.changed(true);
        });
        element = h("div", { class: "cb-node cb-leaf", dataset: { kind: model.kind } },
          h("div", { class: "cb-head" }, negate, kind, this.leafControls(model), removeButton),
          errors);
      } else {
        element = h("div", { class: "cb-node cb-raw" },
          h("div", { class: "cb-head" }, negate, h("span", { text: this.msg.raw }),
            h("code", { text: JSON.stringify(model.value) }), removeButton),
          errors);
      }
      element.dataset.path = JSON.stringify(path);
      for (let depth = path.length; depth <= inner.length; depth += 1) {
        this.nodes.set(JSON.stringify(inner.slice(0, depth)), element);
      }
      return element;
    }

    select(choices, current, key, onchange) {
      const options = choices.map((choice) =>
        h("option", { value: choice.value, selected: choice.value === current }, choice.label));
      if (!choices.some((choice) => choice.value === current)) {
        // A name the page does not know (a deleted tag, say): kept, and said so.
        const label = format(this.msg.unknown, { value: current });
        options.unshift(h("option", { value: current, selected: true }, label));
      }
      return h("select", {
        dataset: { key },
        onchange: (event) => onchange(event.target.value),
      }, options);
    }

    input(model, key, attrs, read) {
      const value = model.values[key];
      return h("input", {
        ...attrs,
        dataset: { key },
        value: value === undefined || value === null ? "" : String(value),
        oninput: (event) => {
          model.values[key] = read(event.target.value.trim());
          this.changed(false);
        },
      });
    }

    leafControls(model) {
      const values = model.values;
      const limits = this.vocab.limits;
      const set = (key, redraw) => (value) => { values[key] = value; this.changed(redraw); };
      switch (model.kind) {
        case "tag":
          return this.select(this.vocab.tags, values.tag, "tag", set("tag", false));
        case "app":
          return this.select(this.vocab.apps, values.app, "app", set("app", false));
        case "followed":
          return this.select(this.vocab.apps.filter((app) => app.service_account),
            values.followed, "followed", set("followed", false));
        case "has_phone":
          return this.select(
            [{ value: "true", label: this.msg.yes_phone }, { value: "false", label: this.msg.no_phone }],
            String(values.has_phone), "has_phone", (value) => set("has_phone", false)(value === "true"));
        case "field":
          return this.fieldControls(model);
        default: {
          const count = (key, label) => h("label", { class: "cb-label" }, label, " ",
            this.input(model, key, { type: "number", min: 0, max: limits.max_count, step: 1 },
              (text) => (text === "" ? undefined : whole(text))));
          return [
            this.select(this.vocab.event_types, values.event, "event", set("event", false)),
            h("label", { class: "cb-label" }, this.msg.within_days, " ",
              this.input(model, "within_days", { type: "number", min: 1, max: limits.max_days, step: 1 },
                (text) => (text === "" ? null : whole(text))),
              " ", this.msg.days),
            count("min_count", this.msg.min_count),
            count("max_count", this.msg.max_count),
          ];
        }
      }
    }

    fieldControls(model) {
      const values = model.values;
      const type = this.fields[values.field].type;
      const limits = this.vocab.limits;
      const field = this.select(this.vocab.fields, values.field, "field", (value) => {
        const fresh = this.fieldDefaults(value);
        if (this.fields[value].type === type) {
          values.field = value; // same kind of value: keep the operator and the value
        } else {
          model.values = fresh;
        }
        this.changed(true);
      });
      const op = this.select(this.vocab.operators[type], values.op, "op", (value) => {
        values.op = value;
        this.changed(false);
      });
      const inputs = {
        count: [{ type: "number", min: 0, max: limits.max_count, step: 1 }, whole],
        amount: [{ type: "number", step: "0.01" }, amount],
        time: [{ type: "number", min: 1, max: limits.max_days, step: 1 }, whole],
        text: [{ type: "text", maxlength: limits.max_text }, (text) => text],
      }[type];
      const value = this.input(model, "value", inputs[0],
        (text) => (text === "" && type !== "text" ? null : inputs[1](text)));
      return [field, op, value, type === "time" ? h("span", { text: this.msg.days }) : null];
    }

    // --- the live count and the errors at their rows ---

    scheduleCount() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.count(), DEBOUNCE_MS);
    }

    showCount(text, state, count) {
      this.countOut.textContent = text;
      this.countOut.dataset.state = state;
      if (count === undefined) delete this.countOut.dataset.count;
      else this.countOut.dataset.count = String(count);
    }

    async count() {
      this.clearErrors();
      const sequence = ++this.sequence;
      if (this.controller) this.controller.abort();
      if (this.model === null) {
        this.showCount("", "empty");
        return;
      }
      this.controller = new AbortController();
      this.showCount(this.msg.counting, "counting");
      const body = { condition: this.serialize(this.model) };
      if (this.root.dataset.forbiddenTag) body.tag = this.root.dataset.forbiddenTag;
      let response = null;
      let answer = null;
      try {
        response = await fetch(this.root.dataset.countUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify(body),
          signal: this.controller.signal,
        });
        answer = await response.json();
      } catch (error) {
        if (error.name === "AbortError") return;
      }
      if (sequence !== this.sequence) return;
      if (response && response.ok && answer && typeof answer.count === "number") {
        const template = answer.count === 1 ? this.msg.match_one : this.msg.match_other;
        this.showCount(format(template, { count: answer.count }), "counted", answer.count);
      } else if (response && response.status === 400 && answer && Array.isArray(answer.errors)) {
        this.showErrors(answer.errors);
        this.showCount(this.msg.no_count, "invalid");
      } else if (response && response.status === 429) {
        // Our previous count (one the browser gave up on) still runs on the server: say so and
        // ask again once it may have ended, unless an edit asks first (scheduleCount).
        const message = answer && answer.errors && answer.errors[0] && answer.errors[0].message;
        this.showCount(message || this.msg.count_failed, "busy");
        const seconds = Number(response.headers.get("Retry-After")) || 1;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.count(), seconds * 1000);
      } else {
        const message = answer && answer.errors && answer.errors[0] && answer.errors[0].message;
        this.showCount(message || this.msg.count_failed, "failed");
      }
    }

    clearErrors() {
      for (const list of this.root.querySelectorAll("[data-cb-errors]")) list.replaceChildren();
      for (const node of this.root.querySelectorAll(".cb-has-error")) node.classList.remove("cb-has-error");
      for (const node of this.root.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    }

    showErrors(errors) {
      for (const error of errors) {
        const parts = Array.isArray(error.path) ? error.path.slice() : [];
        const last = parts[parts.length - 1];
        const key = typeof last === "string" && !NODE_KEYS.includes(last) ? parts.pop() : null;
        while (parts.length && !this.nodes.has(JSON.stringify(parts))) parts.pop();
        const element = this.nodes.get(JSON.stringify(parts));
        if (!element) continue; // the root is always drawn when there is something to count
        element.classList.add("cb-has-error");
        const list = element.querySelector(":scope > [data-cb-errors]");
        list.append(h("li", { dataset: { cbError: key || "" } }, error.message));
        const control = key && element.querySelector(`:scope > .cb-head [data-key="${CSS.escape(key)}"]`);
        if (control) control.setAttribute("aria-invalid", "true");
      }
    }
  }

  function whole(text) {
    return /^-?[0-9]{1,15}$/.test(text) ? Number(text) : text;
  }

  function amount(text) {
    return /^-?[0-9]{1,12}(\.[0-9]{1,2})?$/.test(text) ? Number(text) : text;
  }

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
  }

  function start() {
    for (const root of document.querySelectorAll(".condition-builder[data-textarea]")) {
      if (!root.builder) root.builder = new Builder(root);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

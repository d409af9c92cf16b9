/* The admin's report charts: draw every figure of the page with plotly.js (served by the
 * project) and turn a click on a report cell, in the chart or in the table, into the
 * "save as tag" form. Figures are JSON built in Python (analytics/charts); a point that stands
 * for a cell carries it in customdata (analytics/charts/common.py cell_data). */
"use strict";

(function () {
  function choose(payload, element) {
    var form = document.getElementById("save-cell-form");
    if (!form || !payload) {
      return;
    }
    var chosen = JSON.parse(payload);
    form.elements.cell.value = JSON.stringify(chosen.cell);
    document.getElementById("save-cell-description").textContent =
      chosen.label + ": " + chosen.count + " " + form.dataset.personsLabel;
    document.getElementById("save-cell-submit").disabled = false;
    document.querySelectorAll(".cell-pick.chosen").forEach(function (cell) {
      cell.classList.remove("chosen");
    });
    if (element) {
      element.classList.add("chosen");
    }
    form.dataset.chosen = "true";
    form.elements.tag.focus();
  }

  function draw(container) {
    var source = document.getElementById(container.dataset.figure);
    if (!source || typeof Plotly === "undefined") {
      return;
    }
    var figure = JSON.parse(source.textContent);
    var config = { displaylogo: false, responsive: true };
    if (container.dataset.static === "true") {
      config.displayModeBar = false;
    }
    Plotly.newPlot(container, figure.data, figure.layout, config).then(function () {
      container.dataset.drawn = "true";
      container.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        if (point && point.customdata) {
          choose(point.customdata, null);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-figure]").forEach(draw);
    document.querySelectorAll(".cell-pick[data-cell]").forEach(function (cell) {
      cell.addEventListener("click", function () {
        choose(cell.dataset.cell, cell);
      });
      cell.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          choose(cell.dataset.cell, cell);
        }
      });
    });
  });
})();

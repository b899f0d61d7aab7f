// modelreg's few lines of script: the registry picker, the version switcher, the
// choices that show parts of a form (location, environment), a PEM file read into its field,
// and file upload with a progress bar through
// the storage API (/api/modelreg/v1/model_versions/{id}/uploads, then PUT each file).
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  onReady(function () {
    document.querySelectorAll("[data-registry-picker] select, [data-version-switch] select").forEach(function (s) {
      s.addEventListener("change", function () { window.location.href = s.value; });
    });
    // A fieldset[data-choice=NAME] shows only its [data-when] parts that match NAME's
    // value (a checked radio, or a select).
    document.querySelectorAll("fieldset[data-choice]").forEach(function (fs) {
      var name = fs.dataset.choice;
      function sync() {
        var el = fs.querySelector('input[name="' + name + '"]:checked') || fs.querySelector('select[name="' + name + '"]');
        var kind = el ? el.value : "";
        fs.querySelectorAll("[data-when]").forEach(function (d) { d.hidden = d.dataset.when !== kind; });
      }
      fs.addEventListener("change", sync);
      sync();
    });
    document.querySelectorAll("form[data-upload]").forEach(setupUpload);
    document.querySelectorAll("[data-read-into]").forEach(function (box) {
      var target = document.getElementById(box.dataset.readInto);
      box.hidden = false;
      box.querySelector('input[type="file"]').addEventListener("change", async function (ev) {
        var file = ev.target.files && ev.target.files[0];
        if (file) target.value = await file.text();
      });
    });
  });

  async function sha256(file) {
    var buf = await file.arrayBuffer();
    var digest = await crypto.subtle.digest("SHA-256", buf);
    return Array.from(new Uint8Array(digest)).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function setupUpload(form) {
    var input = form.querySelector('input[type="file"]');
    var bar = form.querySelector("progress");
    var status = form.querySelector("[data-status]");
    var api = form.dataset.api;
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var files = Array.from(input.files || []);
      if (!files.length) { status.textContent = "Choose one or more files first."; return; }
      try {
        status.textContent = "Hashing " + files.length + " file(s)…";
        var entries = [];
        for (var f of files) entries.push({ path: f.name, size: f.size, sha256: await sha256(f) });
        var body = { name: form.dataset.name, files: entries };
        var format = form.querySelector('[name="format"]'), formatVersion = form.querySelector('[name="format_version"]');
        if (format && format.value.trim()) body.modelFormatName = format.value.trim();
        if (formatVersion && formatVersion.value.trim()) body.modelFormatVersion = formatVersion.value.trim();
        var started = await call("POST", api + "/model_versions/" + form.dataset.version + "/uploads",
          JSON.stringify(body), "application/json");
        var artifact = started.artifactId;
        var total = files.reduce(function (n, f) { return n + f.size; }, 0) || 1;
        var done = 0;
        bar.hidden = false;
        for (var file of files) {
          if (started.missing && started.missing.indexOf(file.name) < 0) { done += file.size; continue; }
          status.textContent = "Uploading " + file.name + "…";
          await put(api + "/artifacts/" + artifact + "/files/" + encodeURIComponent(file.name), file, function (sent) {
            bar.value = Math.round(100 * (done + sent) / total);
          });
          done += file.size;
        }
        bar.value = 100;
        await call("POST", api + "/artifacts/" + artifact + "/complete", null, null);
        status.textContent = "Upload complete.";
        window.location.href = window.location.pathname + "?notice=" + encodeURIComponent("Files uploaded.");
      } catch (err) {
        status.textContent = "Upload failed: " + err.message;
      }
    });
  }

  function call(method, url, body, type) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      if (type) xhr.setRequestHeader("Content-Type", type);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch (e) { data = {}; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data); else reject(new Error(data.message || xhr.statusText));
      };
      xhr.onerror = function () { reject(new Error("the connection failed")); };
      xhr.send(body);
    });
  }

  function put(url, file, progress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress(e.loaded); };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve(); else {
          var m = ""; try { m = JSON.parse(xhr.responseText).message; } catch (e) { m = xhr.statusText; }
          reject(new Error(m));
        }
      };
      xhr.onerror = function () { reject(new Error("the connection failed")); };
      xhr.send(file);
    });
  }
})();

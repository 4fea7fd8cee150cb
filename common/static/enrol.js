// The enrol form's city list follows the chosen province (the list comes from
// common/iran_places.toml through the page). Without script the server's list stays.
(function () {
  const province = document.getElementById('province');
  const city = document.getElementById('city');
  if (!province || !city) return;
  const places = JSON.parse(province.dataset.places || '{}');
  function fill() {
    const keep = city.value;
    city.replaceChildren(new Option('—', ''));
    for (const name of places[province.value] || []) city.add(new Option(name, name));
    city.value = (places[province.value] || []).includes(keep) ? keep : '';
    city.disabled = !province.value;
  }
  province.addEventListener('change', fill);
  fill();
})();

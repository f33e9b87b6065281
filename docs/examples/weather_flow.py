"""A small weather flow: the code the Storage and Registration pages use."""

from prefect import flow, task

# a few days of noon temperatures (°C), so the flow needs no network
READINGS = {
    "Oslo": [3.5, 4.0, 2.5, 5.0],
    "Lisbon": [17.0, 18.5, 19.0, 17.5],
    "Nairobi": [24.0, 25.5, 23.0, 24.5],
}


@task(task_run_name="read-{city}")
def read_temperatures(city: str) -> list[float]:
    """The readings of one city (a stand-in for a weather service)."""
    return READINGS[city]


@task(task_run_name="mean-{city}")
def mean_temperature(city: str, temperatures: list[float]) -> float:
    return round(sum(temperatures) / len(temperatures), 1)


@flow(flow_run_name="weather-{city}", log_prints=True)
def weather(city: str = "Oslo") -> float:
    """Average the recent temperatures of a city."""
    temperatures = read_temperatures(city)
    mean = mean_temperature(city, temperatures)
    print(f"{city}: mean of {len(temperatures)} readings is {mean} °C")
    return mean


if __name__ == "__main__":
    # `python weather_flow.py` serves the flow: it registers the deployment
    # weather/served, then runs the deployment's runs until it is stopped
    weather.serve(name="served")
